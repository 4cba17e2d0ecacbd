/**
 * The simulated services take what pipectl publishes through to predictions, through the same
 * library the pipeline uses; a scenario's fault keeps happening until pipectl repairs around it.
 */

import { describe, expect, it } from 'vitest';

import { param } from '../../src/lib/backends/ports.js';
import { readGate } from '../../src/lib/completion.js';
import { readBatch } from '../../src/lib/coordinator/index.js';
import { buildPhaseTrigger } from '../../src/lib/triggers.js';
import { sandbox, TODAY, type Sandbox } from './helpers.js';

async function publishPhase3Trigger(box: Sandbox, correlationId: string): Promise<void> {
  const ctx = box.open();
  try {
    const trigger = buildPhaseTrigger(ctx.config, {
      phase: 3,
      gameDate: TODAY,
      correlationId,
      entities: [],
      fullBatch: true,
      source: 'test',
    });
    await ctx.backends.bus.publish(trigger.topic, [trigger.message]);
  } finally {
    await ctx.backends.close();
  }
}

interface DrainJson {
  handled: number;
  pending: number;
  exhausted: boolean;
  runs: { success: number; failed: number };
  triggers: string[];
  batches_started: string[];
  predictions_written: number;
}

describe('sandbox drain', () => {
  it('takes a Phase 3 trigger through Phases 3, 4 and 5 to 450 predictions', async () => {
    const box = sandbox();
    await publishPhase3Trigger(box, 'test-drain-1');

    const drained = await box.cli(['sandbox', 'drain', '--json']);
    expect(drained.code, drained.stderr).toBe(0);
    const summary = drained.json<DrainJson>();
    expect(summary).toMatchObject({ pending: 0, exhausted: false, predictions_written: 450 });
    expect(summary.runs).toEqual({ success: 10, failed: 0 });
    expect(summary.triggers.map((t) => t.split(' ')[0])).toEqual([
      'phase4-trigger',
      'phase5-trigger',
    ]);
    expect(summary.batches_started).toHaveLength(1);

    const ctx = box.open();
    try {
      expect((await readGate(ctx, 3, TODAY)).triggered).toBe(true);
      expect((await readGate(ctx, 4, TODAY)).triggered).toBe(true);
      expect(await readBatch(ctx, TODAY)).toMatchObject({
        status: 'complete',
        completed: 450,
        expected: 450,
      });
      const [row] = await ctx.backends.warehouse.query(
        'SELECT COUNT(*) AS n, COUNT(DISTINCT player_lookup) AS players FROM `nba_predictions.player_prop_predictions` WHERE game_date = @date',
        { date: param.date(TODAY) },
      );
      expect(row).toEqual({ n: 450, players: 450 });
      // Every report went through the orchestrator path, and every trigger carried the id.
      const runs = await ctx.backends.warehouse.query<{ correlation_id: string }>(
        'SELECT DISTINCT correlation_id FROM `nba_reference.processor_run_history` WHERE data_date = @date',
        { date: param.date(TODAY) },
      );
      expect(runs.map((r) => r.correlation_id)).toEqual(['test-drain-1']);
    } finally {
      await ctx.backends.close();
    }

    // Nothing is left, so a second drain does nothing, and status is healthy apart from the
    // Phase 2 gate this test never ran.
    const again = await box.cli(['sandbox', 'drain', '--json']);
    expect(again.json<DrainJson>().handled).toBe(0);
  });

  it('keeps a failing processor failing until force-complete, then finishes the day', async () => {
    const box = sandbox();
    expect(
      (await box.cli(['sandbox', 'init', '--scenario', 'stuck-orchestrator', '--date', TODAY]))
        .code,
    ).toBe(0);

    // The phase re-runs, and the fault persists: a failed run, no report, gate still 4 of 5.
    await publishPhase3Trigger(box, 'test-rerun-3');
    const rerun = await box.cli(['sandbox', 'drain', '--json']);
    expect(rerun.json<DrainJson>().runs).toEqual({ success: 4, failed: 1 });
    const stuck = await box.cli(['status', '--date', TODAY, '--json']);
    expect(stuck.code).toBe(1);
    expect(stuck.json<{ problems: { code: string }[] }>().problems[0]?.code).toBe('gate-stuck');

    const forced = await box.cli([
      'orchestrator', 'force-complete', '--phase', '3', '--date', TODAY,
      '--processor', 'TeamDefenseGameSummaryProcessor', '--yes', '--reason', 'test: processor keeps failing',
    ]); // prettier-ignore
    expect(forced.code, forced.stderr).toBe(0);
    const finished = await box.cli(['sandbox', 'drain', '--json']);
    expect(finished.json<DrainJson>().predictions_written).toBe(450);
    const healthy = await box.cli(['status', '--date', TODAY, '--json']);
    expect(healthy.code, healthy.stdout).toBe(0);
  });

  it('skips a backup /start while the batch runs, then completes it', async () => {
    const box = sandbox();
    await box.cli(['sandbox', 'init', '--scenario', 'backup-during-run', '--date', TODAY]);
    const drained = await box.cli(['sandbox', 'drain', '--json']);
    const summary = drained.json<DrainJson & { starts_skipped: string[] }>();
    expect(summary.starts_skipped).toEqual([TODAY]);
    expect(summary.batches_started).toEqual([]);
    expect(summary.predictions_written).toBe(150);
    expect((await box.cli(['status', '--date', TODAY])).code).toBe(0);
  });

  it('stops at --max with messages left and exits 1', async () => {
    const box = sandbox();
    await publishPhase3Trigger(box, 'test-max');
    const limited = await box.cli(['sandbox', 'drain', '--max', '3', '--json']);
    expect(limited.code).toBe(1);
    const summary = limited.json<DrainJson>();
    expect(summary.exhausted).toBe(true);
    expect(summary.handled).toBe(3);
    expect(summary.pending).toBeGreaterThan(0);
  });
});
