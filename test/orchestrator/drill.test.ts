/**
 * The stuck-orchestrator drill end to end on a sandbox, through the built CLI: the scenario's
 * gate is found by `stuck`, explained by `show`, repaired by `force-complete`, and the
 * simulated services then run the remaining phases to predictions.
 */

import { describe, expect, it } from 'vitest';

import { openLocalBackends } from '../../src/lib/backends/local/index.js';
import { param } from '../../src/lib/backends/ports.js';
import { loadConfig } from '../../src/lib/config.js';
import { todayIn } from '../../src/lib/dates.js';
import { runCli, tempSandbox } from '../helpers/cli.js';

describe('the stuck-orchestrator drill', () => {
  it('is found by stuck, repaired by force-complete, and drain runs on to predictions', async () => {
    const sandbox = tempSandbox('pipectl-drill-');
    const config = loadConfig({ env: {} });
    const date = todayIn(config.timezone);
    const cli = (args: string[]) =>
      runCli(args, { env: { PIPECTL_SANDBOX: sandbox }, timeoutMs: 120_000 });

    const init = await cli([
      ...['sandbox', 'init', '--scenario', 'stuck-orchestrator', '--date', date],
      ...['--players', '60', '--yes'],
    ]);
    expect(init.code, init.stderr).toBe(0);

    const stuck = await cli(['orchestrator', 'stuck', '--older-than', '1h', '--json']);
    expect(stuck.code).toBe(1);
    expect(stuck.json()).toMatchObject({
      stuck: [
        {
          phase: 3,
          game_date: date,
          kind: 'waiting',
          missing: ['TeamDefenseGameSummaryProcessor'],
        },
      ],
    });

    const shown = await cli(['orchestrator', 'show', '--phase', '3', '--date', date, '--json']);
    expect(shown.json()).toMatchObject({
      missing: ['TeamDefenseGameSummaryProcessor'],
      triggered: false,
      problems: [{ kind: 'failed_run', processor: 'TeamDefenseGameSummaryProcessor' }],
    });

    const forced = await cli([
      ...['orchestrator', 'force-complete', '--phase', '3', '--date', date, '--missing'],
      ...['--reason', 'drill: upstream timeout', '--yes', '--json'],
    ]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.json()).toMatchObject({ triggered: true, trigger: { published: true } });

    const after = await cli(['orchestrator', 'stuck', '--older-than', '1h', '--json']);
    expect(after.code).toBe(0);

    const drained = await cli(['sandbox', 'drain']);
    expect(drained.code, drained.stderr).toBe(0);

    const backends = openLocalBackends({ path: sandbox });
    try {
      const [row] = await backends.warehouse.query<{ n: number }>(
        `SELECT COUNT(*) AS n FROM \`${config.tables.predictions}\` WHERE game_date = @date`,
        { date: param.date(date) },
      );
      expect(row!.n).toBe(60);
      const triggers = await backends.messages.list({ topic: 'phase4-trigger' });
      expect(triggers.filter((m) => m.data.game_date === date)).toHaveLength(1);
    } finally {
      await backends.close();
    }
  }, 240_000);
});
