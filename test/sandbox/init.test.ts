/** `sandbox init`: deterministic for a seed, awkward ids as data, local profile only, no overwrite. */

import { describe, expect, it } from 'vitest';

import { param, type Row } from '../../src/lib/backends/ports.js';
import { initScenario } from '../../src/lib/sandbox/init.js';
import { buildRoster } from '../../src/lib/sandbox/roster.js';
import { SCENARIO_NAMES } from '../../src/lib/sandbox/scenarios.js';
import { sandbox, TODAY, type Sandbox } from './helpers.js';

/** Everything that should depend only on the seed: values, hashes, ids, not wall-clock times. */
async function fingerprint(box: Sandbox, seed: number): Promise<Row[][]> {
  const ctx = box.open();
  try {
    await initScenario(ctx, { scenario: 'nan-predictions', gameDate: TODAY, players: 120, seed });
    const q = (sql: string) => ctx.backends.warehouse.query(sql, { date: param.date(TODAY) });
    return [
      await q(
        'SELECT player_lookup, predicted_points, batch_id, correlation_id FROM `nba_predictions.player_prop_predictions` WHERE game_date = @date ORDER BY player_lookup',
      ),
      await q(
        'SELECT player_lookup, similarity_baseline, fatigue_adjustment, data_hash FROM `nba_predictions.ml_feature_store_v2` WHERE game_date = @date ORDER BY player_lookup',
      ),
      await q(
        'SELECT team_abbr, stat_value, data_hash FROM `nba_analytics.team_defense_game_summary` WHERE game_date = @date ORDER BY team_abbr',
      ),
      await q(
        'SELECT processor_name, run_id, records_processed, entities_changed FROM `nba_reference.processor_run_history` WHERE data_date = @date ORDER BY processor_name',
      ),
    ];
  } finally {
    await ctx.backends.close();
  }
}

describe('sandbox init', () => {
  it('writes the same rows for the same seed, and different ones for another seed', async () => {
    const a = await fingerprint(sandbox(), 7);
    const b = await fingerprint(sandbox(), 7);
    const c = await fingerprint(sandbox(), 8);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(JSON.stringify(c)).not.toBe(JSON.stringify(a));
    expect(a[0]).toHaveLength(120);
  });

  it('names players deterministically, some with apostrophes and non-ASCII letters', () => {
    const roster = buildRoster(42, 450);
    expect(buildRoster(42, 450)).toEqual(roster);
    const ids = roster.map((p) => p.lookup);
    expect(new Set(ids).size).toBe(450);
    expect(ids).toContain('lebronjames');
    expect(ids).toContain("de'aaronfox");
    expect(ids).toContain('nikolajokić');
    expect(ids.filter((id) => /[^\x20-\x7e]/.test(id)).length).toBeGreaterThan(3);
  });

  it('refuses to overwrite a sandbox with data (exit 3) unless --force', async () => {
    const box = sandbox();
    expect(
      (await box.cli(['sandbox', 'init', '--scenario', 'stale-lock', '--date', TODAY])).code,
    ).toBe(0);
    const again = await box.cli(['sandbox', 'init', '--scenario', 'healthy', '--date', TODAY]);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain('--force');
    const forced = await box.cli([
      'sandbox',
      'init',
      '--scenario',
      'healthy',
      '--date',
      TODAY,
      '--force',
      '--json',
    ]);
    expect(forced.code, forced.stderr).toBe(0);
    expect((await box.cli(['status', '--date', TODAY])).code).toBe(0);
  });

  it('refuses any profile but local with exit 2, and bad options with exit 2', async () => {
    const box = sandbox();
    const prod = await box.cli(['--profile', 'prod', 'sandbox', 'init', '--scenario', 'healthy']);
    expect(prod.code).toBe(2);
    expect(prod.stderr).toMatch(/only on the local profile/);
    const unknown = await box.cli(['sandbox', 'init', '--scenario', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('stuck-orchestrator');
    expect(
      (await box.cli(['sandbox', 'init', '--scenario', 'healthy', '--players', 'many'])).code,
    ).toBe(2);
  });

  it('lists every scenario, one line each, and as JSON', async () => {
    const box = sandbox();
    const text = await box.cli(['sandbox', 'scenarios']);
    expect(text.stdout.trim().split('\n')).toHaveLength(SCENARIO_NAMES.length);
    const json = await box.cli(['sandbox', 'scenarios', '--json']);
    expect(json.json<{ name: string }[]>().map((s) => s.name)).toContain('backup-during-run');
  });

  it('prints the message log as [{topic, data, attributes, published_at}]', async () => {
    const box = sandbox();
    await box.cli([
      'sandbox',
      'init',
      '--scenario',
      'backup-during-run',
      '--date',
      TODAY,
      '--players',
      '60',
    ]);
    const pending = await box.cli(['sandbox', 'messages', '--pending', '--json']);
    const messages = pending.json<
      {
        topic: string;
        data: Record<string, unknown>;
        attributes: Record<string, string>;
        published_at: string;
      }[]
    >();
    expect(messages.length).toBe(21);
    expect(messages.every((m) => m.topic && m.data && m.attributes && m.published_at)).toBe(true);
  });
});
