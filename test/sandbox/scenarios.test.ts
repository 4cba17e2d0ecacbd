/**
 * Every scenario, right after `init`, shows its failure in `status` (text and JSON), with the
 * command to run next, and `healthy` shows none. Each scenario's written state is checked
 * directly in the sandbox file too, so a status that merely guessed right would not pass.
 */

import { beforeAll, describe, expect, it } from 'vitest';

import { param } from '../../src/lib/backends/ports.js';
import { readGate } from '../../src/lib/completion.js';
import { readBatch, readLease } from '../../src/lib/coordinator/index.js';
import { SCENARIO_NAMES, type ScenarioName } from '../../src/lib/sandbox/scenarios.js';
import type { CliResult } from '../helpers/cli.js';
import { limited, sandbox, TODAY, type Sandbox } from './helpers.js';

interface StatusJson {
  game_date: string;
  gates: {
    phase: number;
    expected: number;
    reported: number;
    missing: string[];
    triggered: boolean;
  }[];
  coordinator: { status: string | null; expected: number; completed: number; written: number };
  problems: { code: string; message: string; next: string }[];
  healthy: boolean;
  diagnosis: string;
  next: string;
}

interface Built {
  box: Sandbox;
  init: CliResult;
  status: CliResult;
  text: CliResult;
}

const built = new Map<ScenarioName, Built>();

beforeAll(async () => {
  await limited([...SCENARIO_NAMES], 3, async (scenario) => {
    const box = sandbox();
    const init = await box.cli([
      'sandbox',
      'init',
      '--scenario',
      scenario,
      '--date',
      TODAY,
      '--json',
    ]);
    const status = await box.cli(['status', '--date', TODAY, '--json']);
    const text = await box.cli(['status', '--date', TODAY]);
    built.set(scenario, { box, init, status, text });
  });
}, 900_000);

/** The problem status must put first, and what it must advise. */
const EXPECTED: Record<Exclude<ScenarioName, 'healthy'>, { code: string; next: RegExp }> = {
  'stuck-orchestrator': {
    code: 'gate-stuck',
    next: /^pipectl orchestrator force-complete --phase 3 --date \S+ --processor TeamDefenseGameSummaryProcessor --reason /,
  },
  'coordinator-crash': {
    code: 'coordinator-stalled',
    next: /^pipectl coordinator republish --date /,
  },
  'double-trigger': { code: 'double-trigger', next: /^pipectl health --date / },
  'stale-lock': { code: 'stale-lock', next: /^pipectl coordinator unlock --date / },
  'zero-changes': { code: 'zero-changes', next: /^pipectl changes verify-hash --date / },
  'nan-predictions': { code: 'nan-predictions', next: /^pipectl health --date / },
  'null-features': { code: 'null-features', next: /^pipectl health --date / },
  'empty-output': { code: 'empty-output', next: /^pipectl health --date / },
  'orphaned-correlation': { code: 'orphaned-correlation', next: /^pipectl phase run 4 --date / },
  'backup-during-run': { code: 'start-during-run', next: /^pipectl coordinator show --date / },
};

describe('sandbox init + status', () => {
  it('initialises every scenario (exit 0, one JSON document)', () => {
    for (const scenario of SCENARIO_NAMES) {
      const { init } = built.get(scenario)!;
      expect(init.code, `${scenario}: ${init.stderr}`).toBe(0);
      expect(init.json<{ scenario: string }>().scenario).toBe(scenario);
    }
  });

  it('shows nothing wrong for healthy: exit 0, no problems, 450 of 450', () => {
    const { status, text } = built.get('healthy')!;
    expect(status.code).toBe(0);
    const report = status.json<StatusJson>();
    expect(report.problems).toEqual([]);
    expect(report.healthy).toBe(true);
    expect(report.gates.map((g) => [g.phase, g.reported, g.expected, g.triggered])).toEqual([
      [2, 21, 21, true],
      [3, 5, 5, true],
      [4, 5, 5, true],
    ]);
    expect(report.coordinator).toMatchObject({
      status: 'complete',
      expected: 450,
      completed: 450,
      written: 450,
    });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/Diagnosis\s+Healthy/);
  });

  for (const [scenario, expected] of Object.entries(EXPECTED)) {
    it(`shows ${scenario} as ${expected.code} with its next command, in JSON and text (exit 1)`, () => {
      const { status, text } = built.get(scenario as ScenarioName)!;
      expect(status.code, status.stderr).toBe(1);
      const report = status.json<StatusJson>();
      expect(report.healthy).toBe(false);
      expect(report.problems[0]?.code).toBe(expected.code);
      expect(report.next).toMatch(expected.next);
      expect(report.diagnosis).toBe(report.problems[0]!.message);
      expect(text.code).toBe(1);
      expect(text.stdout).toContain(`Diagnosis  ${report.diagnosis}`);
      expect(text.stdout).toContain(`Next       ${report.next}`);
    });
  }
});

describe('what each scenario writes', () => {
  const withFile = async <T>(
    scenario: ScenarioName,
    fn: (ctx: ReturnType<Sandbox['open']>) => Promise<T>,
  ) => {
    const ctx = built.get(scenario)!.box.open();
    try {
      return await fn(ctx);
    } finally {
      await ctx.backends.close();
    }
  };
  const count = async (
    ctx: ReturnType<Sandbox['open']>,
    sql: string,
    extra: Record<string, unknown> = {},
  ) => {
    const [row] = await ctx.backends.warehouse.query(sql, {
      date: param.date(TODAY),
      ...(extra as Record<string, string>),
    });
    return Number(Object.values(row ?? {})[0] ?? 0);
  };

  it('healthy: every processor table has rows with distinct hashes, no lease, nothing pending', async () => {
    await withFile('healthy', async (ctx) => {
      expect(
        await count(
          ctx,
          'SELECT COUNT(DISTINCT data_hash) FROM `nba_analytics.player_game_summary` WHERE game_date = @date',
        ),
      ).toBe(450);
      expect(
        await count(
          ctx,
          'SELECT COUNT(*) FROM `nba_predictions.player_prop_predictions` WHERE game_date = @date',
        ),
      ).toBe(450);
      expect(await readLease(ctx, TODAY)).toBeNull();
      expect(await ctx.backends.messages.list({ pendingOnly: true })).toEqual([]);
    });
  });

  it('stuck-orchestrator: 4 of 5 reported, a failed run, Phase 4 never triggered', async () => {
    await withFile('stuck-orchestrator', async (ctx) => {
      const gate = await readGate(ctx, 3, TODAY);
      expect(gate.missing).toEqual(['TeamDefenseGameSummaryProcessor']);
      expect(gate.triggered).toBe(false);
      expect((await readGate(ctx, 4, TODAY)).exists).toBe(false);
      expect(
        await count(
          ctx,
          "SELECT COUNT(*) FROM `nba_reference.processor_run_history` WHERE data_date = @date AND status = 'failed' AND processor_name = 'TeamDefenseGameSummaryProcessor'",
        ),
      ).toBe(1);
      expect(await ctx.backends.messages.list({ topic: 'phase4-trigger' })).toEqual([]);
    });
  });

  it('coordinator-crash: running batch, about 380 of 450, state 40 minutes stale, lease expired', async () => {
    await withFile('coordinator-crash', async (ctx) => {
      const batch = await readBatch(ctx, TODAY);
      expect(batch).toMatchObject({ status: 'running', expected: 450, completed: 380 });
      const staleMinutes = (Date.now() - batch.updatedAt!.getTime()) / 60_000;
      expect(staleMinutes).toBeGreaterThan(39);
      expect(staleMinutes).toBeLessThan(45);
      expect((await readLease(ctx, TODAY))?.expired).toBe(true);
      expect(
        await count(
          ctx,
          'SELECT COUNT(*) FROM `nba_predictions.player_prop_predictions` WHERE game_date = @date',
        ),
      ).toBe(380);
    });
  });

  it('double-trigger: two phase4-trigger messages and two Phase 4 runs per processor', async () => {
    await withFile('double-trigger', async (ctx) => {
      expect(await ctx.backends.messages.list({ topic: 'phase4-trigger' })).toHaveLength(2);
      expect(
        await count(
          ctx,
          "SELECT COUNT(DISTINCT trigger_message_id) FROM `nba_reference.processor_run_history` WHERE data_date = @date AND phase = 'phase_4'",
        ),
      ).toBe(2);
      expect(
        await count(
          ctx,
          'SELECT COUNT(*) FROM `nba_predictions.ml_feature_store_v2` WHERE game_date = @date',
        ),
      ).toBe(900);
    });
  });

  it('stale-lock: an expired lease held by a vanished instance, and no batch', async () => {
    await withFile('stale-lock', async (ctx) => {
      const lease = await readLease(ctx, TODAY);
      expect(lease).toMatchObject({ holder: 'coordinator-00017-vanished', expired: true });
      expect((await readBatch(ctx, TODAY)).exists).toBe(false);
    });
  });

  it('zero-changes: every data_hash of the day identical and zero entities changed', async () => {
    await withFile('zero-changes', async (ctx) => {
      expect(
        await count(
          ctx,
          'SELECT COUNT(DISTINCT data_hash) FROM `nba_analytics.player_game_summary` WHERE game_date = @date',
        ),
      ).toBe(1);
      expect(
        await count(
          ctx,
          'SELECT COUNT(DISTINCT data_hash) FROM `nba_predictions.ml_feature_store_v2` WHERE game_date = @date',
        ),
      ).toBe(1);
      expect(
        await count(
          ctx,
          "SELECT SUM(entities_changed) FROM `nba_reference.processor_run_history` WHERE data_date = @date AND phase IN ('phase_2', 'phase_3', 'phase_4')",
        ),
      ).toBe(0);
    });
  });

  it('nan-predictions: NaN values that pass every type check', async () => {
    await withFile('nan-predictions', async (ctx) => {
      expect(
        await count(
          ctx,
          'SELECT COUNTIF(IS_NAN(predicted_points)) FROM `nba_predictions.player_prop_predictions` WHERE game_date = @date',
        ),
      ).toBe(54);
      expect(
        await count(
          ctx,
          'SELECT COUNTIF(predicted_points IS NULL) FROM `nba_predictions.player_prop_predictions` WHERE game_date = @date',
        ),
      ).toBe(0);
    });
  });

  it('null-features: many rows with NULL similarity_baseline and fatigue_adjustment', async () => {
    await withFile('null-features', async (ctx) => {
      const nulls = await count(
        ctx,
        'SELECT COUNTIF(similarity_baseline IS NULL AND fatigue_adjustment IS NULL) FROM `nba_predictions.ml_feature_store_v2` WHERE game_date = @date',
      );
      expect(nulls).toBeGreaterThan(100);
      expect(nulls).toBeLessThan(250);
    });
  });

  it('empty-output: a success run with zero records and an empty table', async () => {
    await withFile('empty-output', async (ctx) => {
      expect(
        await count(
          ctx,
          'SELECT COUNT(*) FROM `nba_raw.odds_api_player_points_props` WHERE game_date = @date',
        ),
      ).toBe(0);
      expect(
        await count(
          ctx,
          "SELECT COUNT(*) FROM `nba_reference.processor_run_history` WHERE data_date = @date AND processor_name = 'OddsApiPropsProcessor' AND status = 'success' AND records_processed = 0",
        ),
      ).toBe(1);
    });
  });

  it('orphaned-correlation: a second correlation id in Phase 3 that never reaches Phase 5', async () => {
    await withFile('orphaned-correlation', async (ctx) => {
      const rows = await ctx.backends.warehouse.query<{ correlation_id: string; phase: string }>(
        'SELECT DISTINCT correlation_id, phase FROM `nba_reference.processor_run_history` WHERE data_date = @date',
        { date: param.date(TODAY) },
      );
      const orphan = rows.find((r) => r.correlation_id.startsWith('reprocess-'))!.correlation_id;
      expect(rows.filter((r) => r.correlation_id === orphan).map((r) => r.phase)).toEqual([
        'phase_3',
      ]);
    });
  });

  it('backup-during-run: running batch, live lease, a pending /start', async () => {
    await withFile('backup-during-run', async (ctx) => {
      expect((await readBatch(ctx, TODAY)).status).toBe('running');
      expect((await readLease(ctx, TODAY))?.expired).toBe(false);
      const pending = await ctx.backends.messages.list({ pendingOnly: true });
      expect(pending.filter((m) => String(m.data.url).endsWith('/start'))).toHaveLength(1);
      expect(pending.filter((m) => m.topic === 'prediction-request')).toHaveLength(150);
    });
  });
});
