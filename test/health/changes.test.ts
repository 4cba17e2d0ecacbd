import { beforeAll, describe, expect, it } from 'vitest';

import { runCli, tempSandbox } from '../helpers/cli.js';
import { DATE, writeDay } from './fixtures.js';

interface Inspect {
  game_day: boolean;
  zero_change_processors: number;
  processors: {
    processor: string;
    phase: string;
    runs: number;
    entities_processed: number;
    entities_changed: number;
    batch: string;
    zero_change: boolean;
  }[];
}
interface Verify {
  rows: number;
  mismatches: number;
  distinct_hashes: number;
  distinct_ratio: number;
  collapsed: boolean;
  ok: boolean;
}

const FEATURES = 'nba_predictions.ml_feature_store_v2';
const SUMMARY = 'nba_analytics.player_game_summary';

describe('changes', () => {
  let healthy: string;
  let broken: string;
  beforeAll(async () => {
    healthy = tempSandbox('pipectl-changes-');
    broken = tempSandbox('pipectl-changes-');
    await writeDay(healthy);
    await writeDay(broken, { changed: 0, brokenHash: true });
  });

  it('inspect lists every processor with processed, changed and batch kind', async () => {
    const result = await runCli(['changes', 'inspect', '--date', DATE, '--json'], {
      env: { PIPECTL_SANDBOX: healthy },
    });
    expect(result.code).toBe(0);
    const body = result.json<Inspect>();
    expect(body.game_day).toBe(true);
    expect(body.processors).toHaveLength(32);
    expect(body.zero_change_processors).toBe(0);
    expect(body.processors.find((p) => p.processor === 'PlayerGameSummaryProcessor')).toMatchObject(
      {
        phase: 'phase_3',
        runs: 1,
        entities_processed: 120,
        entities_changed: 120,
        batch: 'full',
        zero_change: false,
      },
    );
  });

  it('inspect flags every processor that changed nothing all day', async () => {
    const result = await runCli(['changes', 'inspect', '--date', DATE], {
      env: { PIPECTL_SANDBOX: broken },
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('zero-change');
    expect(result.stdout).toContain('32 of 32 processors changed nothing all day');
  });

  it('verify-hash clears a table whose stored hashes match the recomputed ones', async () => {
    for (const table of [FEATURES, SUMMARY]) {
      const result = await runCli(
        ['changes', 'verify-hash', '--table', table, '--date', DATE, '--json'],
        { env: { PIPECTL_SANDBOX: healthy } },
      );
      expect(result.code).toBe(0);
      expect(result.json<Verify>()).toMatchObject({
        rows: 120,
        mismatches: 0,
        distinct_hashes: 120,
        distinct_ratio: 1,
        collapsed: false,
        ok: true,
      });
    }
  });

  it('verify-hash flags a collapsed hash (one hash for every row) with exit 1', async () => {
    const result = await runCli(
      ['changes', 'verify-hash', '--table', FEATURES, '--date', DATE, '--sample', '50', '--json'],
      { env: { PIPECTL_SANDBOX: broken } },
    );
    expect(result.code).toBe(1);
    expect(result.json<Verify>()).toMatchObject({
      rows: 50,
      mismatches: 50,
      distinct_hashes: 1,
      collapsed: true,
      ok: false,
    });
  });

  it('verify-hash refuses a table that is not a hashed output table, with exit 2', async () => {
    const sandbox = tempSandbox();
    for (const table of ['nba_reference.processor_run_history', 'x; DROP TABLE y', 'nope']) {
      const result = await runCli(
        ['changes', 'verify-hash', '--table', table, '--date', DATE, '--json'],
        { env: { PIPECTL_SANDBOX: sandbox } },
      );
      expect(result.code).toBe(2);
      expect(result.json<{ error: { hint: string } }>().error.hint).toContain(FEATURES);
    }
    const { existsSync } = await import('node:fs');
    expect(existsSync(sandbox)).toBe(false);
  });
});
