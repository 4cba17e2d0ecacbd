/**
 * The mutex guard: is the phase already running for this date? Two signals, either enough:
 * - run history holds a `running` row for one of the phase's processors and date, started
 *   within the window, with no later row of the same run saying it ended;
 * - for phase 5, the coordinator's batch for the date is `running`.
 * The second is what stops the 06:00 backup `/start` (or an operator) fanning out a date a
 * slow batch is still working on.
 */

import { param } from '../backends/ports.js';
import { readBatch } from '../coordinator/index.js';
import type { LibContext } from '../context.js';
import type { GameDate } from '../dates.js';
import type { RunnablePhase } from '../pipeline.js';
import { isMissingTable, tableRef } from './sql.js';

/**
 * A `running` row older than this belongs to a run that died without writing its end row;
 * it no longer blocks a new run. Processors finish in minutes; two hours leaves room for a
 * slow full-season backfill.
 */
// A trigger sent seconds ago whose processors have not yet written a `running` row is invisible
// here; the trigger claim (claim.ts) covers that window.
export const RUNNING_WINDOW_MS = 2 * 60 * 60 * 1000;

export interface RunningRun {
  processor: string;
  runId: string;
  correlationId: string | null;
  startedAt: Date;
}

export interface RunningState {
  running: boolean;
  runs: RunningRun[];
  /** Phase 5 only: the coordinator batch, when one is active. */
  batch: {
    status: 'running';
    completed: number;
    expected: number;
    updatedAt: Date | null;
    stale: boolean;
  } | null;
}

export async function phaseRunning(
  ctx: LibContext,
  phase: RunnablePhase,
  gameDate: GameDate,
  options: { windowMs?: number; now?: Date } = {},
): Promise<RunningState> {
  const now = options.now ?? new Date();
  const since = new Date(now.getTime() - (options.windowMs ?? RUNNING_WINDOW_MS));
  const runs = await runningRuns(ctx, phase, gameDate, since);

  let batch: RunningState['batch'] = null;
  if (phase === 5) {
    const state = await readBatch(ctx, gameDate);
    if (state.status === 'running') {
      const updatedAt = state.updatedAt ?? null;
      const staleMs = ctx.config.coordinator.staleAfterMinutes * 60_000;
      batch = {
        status: 'running',
        completed: state.completed,
        expected: state.expected,
        updatedAt,
        stale: updatedAt !== null && now.getTime() - updatedAt.getTime() > staleMs,
      };
    }
  }
  return { running: runs.length > 0 || batch !== null, runs, batch };
}

async function runningRuns(
  ctx: LibContext,
  phase: RunnablePhase,
  gameDate: GameDate,
  since: Date,
): Promise<RunningRun[]> {
  const table = tableRef(ctx.config.tables.runHistory);
  try {
    const rows = await ctx.backends.warehouse.query<{
      processor_name: string;
      run_id: string;
      correlation_id: string | null;
      started_at: Date;
    }>(
      `SELECT r.processor_name, r.run_id, r.correlation_id, r.started_at
       FROM ${table} r
       WHERE r.phase = @phase AND r.data_date = @data_date AND r.status = 'running'
         AND r.started_at >= @since
         AND NOT EXISTS (
           SELECT 1 FROM ${table} e WHERE e.run_id = r.run_id AND e.status != 'running'
         )
       ORDER BY r.started_at`,
      { phase: `phase_${phase}`, data_date: param.date(gameDate), since: param.timestamp(since) },
      { timeoutMs: ctx.config.profile.timeoutMs },
    );
    return rows.map((r) => ({
      processor: r.processor_name,
      runId: r.run_id,
      correlationId: r.correlation_id,
      startedAt: r.started_at,
    }));
  } catch (error) {
    // No run history table yet means nothing has ever run, so nothing is running.
    if (isMissingTable(error)) return [];
    throw error;
  }
}

/** Failed runs of the phase for the date since `since`: what ends `--wait` early. */
export async function failedRuns(
  ctx: LibContext,
  phase: RunnablePhase,
  gameDate: GameDate,
  since: Date,
): Promise<{ processor: string; error: string | null; at: Date | null }[]> {
  try {
    const rows = await ctx.backends.warehouse.query<{
      processor_name: string;
      error_message: string | null;
      processed_at: Date | null;
      started_at: Date | null;
    }>(
      `SELECT processor_name, error_message, processed_at, started_at
       FROM ${tableRef(ctx.config.tables.runHistory)}
       WHERE phase = @phase AND data_date = @data_date AND status = 'failed'
         AND (processed_at >= @since OR started_at >= @since)
       ORDER BY processor_name`,
      { phase: `phase_${phase}`, data_date: param.date(gameDate), since: param.timestamp(since) },
      { timeoutMs: ctx.config.profile.timeoutMs },
    );
    return rows.map((r) => ({
      processor: r.processor_name,
      error: r.error_message,
      at: r.processed_at ?? r.started_at,
    }));
  } catch (error) {
    if (isMissingTable(error)) return [];
    throw error;
  }
}
