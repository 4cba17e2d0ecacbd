/**
 * Operator views and repairs of the orchestrator gates: what a gate waits for (and what run
 * history says about it), which gates are stuck, and the three repairs — force-complete, reset
 * and retrigger. Every write goes through the gate transaction in completion.ts, so a repair
 * racing a late processor still triggers the next phase exactly once.
 */

import { param, type DocData } from './backends/ports.js';
import {
  GATE_TX_ATTEMPTS,
  gatePath,
  readGate,
  recordReports,
  type GateView,
  type ProcessorReport,
  type RecordOutcome,
} from './completion.js';
import type { LibContext } from './context.js';
import { addDays, todayIn, type GameDate } from './dates.js';
import { GATED_PHASES, type GatedPhase } from './pipeline.js';
import { correlationId as newCorrelationId } from './ids.js';
import { buildPhaseTrigger, type TriggeredPhase } from './triggers.js';

// ---------------------------------------------------------------------------------------------
// show: the gate plus a run-history cross-check

export interface LatestRun {
  processor: string;
  status: string;
  runId: string | null;
  correlationId: string | null;
  at: Date | null;
  errorMessage: string | null;
}

export type GateProblem =
  | { kind: 'lost_report'; processor: string; message: string; fix: string }
  | { kind: 'failed_after_report'; processor: string; message: string; fix: string }
  | { kind: 'failed_report'; processor: string; message: string; fix: string }
  | { kind: 'failed_run'; processor: string; message: string; fix: string }
  | { kind: 'unpublished_trigger'; message: string; fix: string };

export interface GateInspection {
  gate: GateView;
  runHistory: { available: boolean; error: string | null; latest: LatestRun[] };
  problems: GateProblem[];
}

/**
 * Reads a gate and compares it with run history, which is written by the processors
 * themselves, independently of their completion messages. That finds the two silent cases: a
 * run that succeeded but whose report never arrived, and a report whose latest run failed.
 */
export async function inspectGate(
  ctx: LibContext,
  phase: GatedPhase,
  gameDate: GameDate,
): Promise<GateInspection> {
  const gate = await readGate(ctx, phase, gameDate);
  const runHistory = await latestRuns(ctx, phase, gameDate);
  const problems: GateProblem[] = [];
  const at = `--phase ${phase} --date ${gameDate}`;

  if (gate.unpublished) {
    problems.push({
      kind: 'unpublished_trigger',
      message: `The gate is marked triggered but phase ${phase + 1}'s trigger was never published`,
      fix: `pipectl orchestrator retrigger ${at}`,
    });
  }
  const reports = new Map(gate.reported.map((r) => [r.processor, r]));
  const runs = new Map(runHistory.latest.map((r) => [r.processor, r]));
  for (const processor of gate.expected) {
    const report = reports.get(processor);
    const run = runs.get(processor);
    if (report?.status === 'failed' && run?.status !== 'success') {
      problems.push({
        kind: 'failed_report',
        processor,
        message: `${processor} reported a failure; the gate waits for its retry`,
        fix: `re-run ${processor}, or: pipectl orchestrator force-complete ${at} --processor ${processor} --reason "..."`,
      });
    }
    if (report === undefined && run?.status === 'failed') {
      problems.push({
        kind: 'failed_run',
        processor,
        message: `${processor} has not reported; its latest run (${run.at?.toISOString() ?? 'time unknown'}) failed: ${run.errorMessage ?? 'no error message'}`,
        fix: `re-run ${processor}, or: pipectl orchestrator force-complete ${at} --processor ${processor} --reason "..."`,
      });
    }
    if (run?.status === 'success' && report?.status !== 'success') {
      problems.push({
        kind: 'lost_report',
        processor,
        message: `${processor} succeeded in run history (${run.at?.toISOString() ?? 'time unknown'}) but its report never reached the gate`,
        fix: `pipectl orchestrator force-complete ${at} --processor ${processor} --reason "report lost"`,
      });
    }
    if (report?.status === 'success' && !report.forced && run?.status === 'failed') {
      problems.push({
        kind: 'failed_after_report',
        processor,
        message: `${processor} reported success but its latest run (${run.at?.toISOString() ?? 'time unknown'}) failed: ${run.errorMessage ?? 'no error message'}`,
        fix: `re-run ${processor} for ${gameDate}; the gate already counted it`,
      });
    }
  }
  return { gate, runHistory, problems };
}

async function latestRuns(
  ctx: LibContext,
  phase: GatedPhase,
  gameDate: GameDate,
): Promise<GateInspection['runHistory']> {
  const table = ctx.config.tables.runHistory;
  let rows;
  try {
    rows = await ctx.backends.warehouse.query(
      `SELECT processor_name, status, run_id, correlation_id, started_at, processed_at,
              error_message
       FROM \`${table}\`
       WHERE phase = @phase AND data_date = @date`,
      { phase: `phase_${phase}`, date: param.date(gameDate) },
    );
  } catch (error) {
    // The gate is still worth showing when the warehouse is missing or down.
    const message = (error as Error).message.split('\n')[0] ?? 'unknown error';
    return { available: false, error: message, latest: [] };
  }

  const latest = new Map<string, LatestRun>();
  for (const row of rows) {
    const at = (row.processed_at ?? row.started_at ?? null) as Date | null;
    const processor = String(row.processor_name);
    const seen = latest.get(processor);
    if (seen && (seen.at?.getTime() ?? -Infinity) >= (at?.getTime() ?? -Infinity)) continue;
    latest.set(processor, {
      processor,
      status: String(row.status),
      runId: (row.run_id as string | null) ?? null,
      correlationId: (row.correlation_id as string | null) ?? null,
      at,
      errorMessage: (row.error_message as string | null) ?? null,
    });
  }
  return { available: true, error: null, latest: [...latest.values()] };
}

// ---------------------------------------------------------------------------------------------
// stuck: gates partly complete for too long

/** A trigger is published milliseconds after its commit; one still missing after this is lost. */
export const UNPUBLISHED_GRACE_MS = 60_000;

export interface StuckGate {
  phase: GatedPhase;
  gameDate: GameDate;
  /** `waiting`: some processors never reported; `unpublished`: marked but never published. */
  kind: 'waiting' | 'unpublished';
  expected: number;
  reported: number;
  missing: string[];
  firstReportAt: Date | null;
  lastReportAt: Date | null;
  /** How long it has been in this state, by the backend's clock. */
  ageMs: number;
}

export interface StuckOptions {
  olderThanMs: number;
  /** How many game dates back from today (in the pipeline's zone) to look, today included. */
  days: number;
  phases?: readonly GatedPhase[];
}

/**
 * Gates that have some reports but not all for longer than `olderThanMs`, and gates marked
 * triggered whose message was never published. Age is judged by the backend's clock, so a
 * skewed laptop does not hide (or invent) a stuck gate.
 */
export async function findStuckGates(
  ctx: LibContext,
  options: StuckOptions,
): Promise<{ now: Date; dates: GameDate[]; stuck: StuckGate[] }> {
  const now = await ctx.backends.documents.serverTime();
  const today = todayIn(ctx.config.timezone, now);
  // Tomorrow too: upcoming-game phases run a day ahead.
  const dates: GameDate[] = [];
  for (let back = options.days - 1; back >= -1; back--) dates.push(addDays(today, -back));
  const phases = options.phases ?? GATED_PHASES;

  const views = await Promise.all(
    dates.flatMap((date) => phases.map((phase) => readGate(ctx, phase, date))),
  );
  const stuck = views
    .map((gate) => stuckGate(gate, now, options.olderThanMs))
    .filter((gate): gate is StuckGate => gate !== null);
  return { now, dates, stuck };
}

/**
 * One gate judged at `now`: stuck (and how), or null. Shared by `orchestrator stuck`, which
 * scans recent dates, and `health`, which judges one date, possibly as of a past moment.
 */
export function stuckGate(gate: GateView, now: Date, olderThanMs: number): StuckGate | null {
  if (!gate.exists) return null;
  const base = {
    phase: gate.phase,
    gameDate: gate.gameDate,
    expected: gate.expected.length,
    reported: gate.expected.length - gate.missing.length,
    missing: gate.missing,
    firstReportAt: gate.firstReportAt,
    lastReportAt: gate.lastReportAt,
  };
  if (gate.unpublished) {
    const ageMs = now.getTime() - (gate.triggeredAt ?? now).getTime();
    if (ageMs >= Math.min(olderThanMs, UNPUBLISHED_GRACE_MS)) {
      return { ...base, kind: 'unpublished', ageMs };
    }
    return null;
  }
  if (gate.triggered || gate.missing.length === 0) return null;
  // Limitation: age counts from the first report, as "partly complete since"; a gate whose
  // processors report slowly but steadily over more than the threshold is listed too.
  const since = gate.firstReportAt ?? now;
  const ageMs = now.getTime() - since.getTime();
  return ageMs >= olderThanMs ? { ...base, kind: 'waiting', ageMs } : null;
}

// ---------------------------------------------------------------------------------------------
// force-complete

export interface ForcePlan {
  gate: GateView;
  /** Processors that will get a forced report. */
  targets: string[];
  /** Named processors that already reported success; forcing them changes nothing. */
  alreadyReported: string[];
  /** Whether these forced reports complete the gate (as of the plan). */
  completes: boolean;
}

export async function planForceComplete(
  ctx: LibContext,
  phase: GatedPhase,
  gameDate: GameDate,
  selection: { processors: string[] } | { missing: true },
): Promise<ForcePlan> {
  const gate = await readGate(ctx, phase, gameDate);
  const named = 'missing' in selection ? gate.missing : [...new Set(selection.processors)];
  const targets = named.filter((p) => gate.missing.includes(p));
  const alreadyReported = named.filter((p) => !gate.missing.includes(p));
  const completes = !gate.triggered && targets.length === gate.missing.length;
  return { gate, targets, alreadyReported, completes };
}

export interface ForceResult {
  forced: string[];
  /** Reports that arrived (really or forced by someone else) between the plan and the write. */
  duplicates: string[];
  reported: number;
  expected: number;
  triggered: boolean;
  trigger: RecordOutcome['trigger'] | null;
}

/**
 * Records forced reports through the same transaction as real ones, all in one commit. A real
 * report arriving meanwhile makes the forced one a no-op; whichever write completes the gate
 * marks it, and only that one publishes.
 */
export async function forceComplete(
  ctx: LibContext,
  phase: GatedPhase,
  gameDate: GameDate,
  processors: string[],
  options: { reason: string | null; publish: boolean },
): Promise<ForceResult> {
  const gate = await readGate(ctx, phase, gameDate);
  const correlation = gate.correlationId ?? newCorrelationId();
  const reports: ProcessorReport[] = processors.map((processor) => ({
    processor,
    status: 'success',
    correlationId: correlation,
    recordCount: 0,
    entitiesChanged: [],
    forced: { by: ctx.actor, reason: options.reason },
  }));
  if (reports.length === 0) {
    return {
      forced: [],
      duplicates: [],
      reported: gate.expected.length - gate.missing.length,
      expected: gate.expected.length,
      triggered: false,
      trigger: null,
    };
  }
  const outcomes = await recordReports(ctx, phase, gameDate, reports, {
    publish: options.publish,
  });
  const completing = outcomes.find((o) => o.triggered);
  return {
    forced: processors.filter((_, i) => !outcomes[i]!.duplicate),
    duplicates: processors.filter((_, i) => outcomes[i]!.duplicate),
    reported: outcomes[0]!.reported,
    expected: outcomes[0]!.expected,
    triggered: completing !== undefined,
    trigger: completing?.trigger ?? null,
  };
}

// ---------------------------------------------------------------------------------------------
// reset

export interface ResetResult {
  deleted: boolean;
  /** The gate document as it was when deleted, for the audit record. */
  copy: DocData | null;
  rerun: {
    topic: string;
    correlationId: string;
    idempotencyKey: string;
    messageId: string | null;
    published: boolean;
    error: string | null;
  } | null;
}

/**
 * Deletes a gate (keeping the deleted copy for the audit record) and, with `rerun`, triggers
 * the gate's own phase again as a full batch under a fresh manual correlation id.
 */
export async function resetGate(
  ctx: LibContext,
  phase: GatedPhase,
  gameDate: GameDate,
  options: { rerun: boolean },
): Promise<ResetResult> {
  const path = gatePath(ctx.config, phase, gameDate);
  // Read and delete in one transaction, so the copy is exactly what was deleted even when a
  // processor reports at the same moment.
  const copy = await ctx.backends.documents.transaction(
    async (tx) => {
      const snap = await tx.get(path);
      if (snap.exists) tx.delete(path);
      return snap.exists ? (snap.data ?? {}) : null;
    },
    { maxAttempts: GATE_TX_ATTEMPTS },
  );
  if (!options.rerun) return { deleted: copy !== null, copy, rerun: null };

  const trigger = buildPhaseTrigger(ctx.config, {
    phase: phase as TriggeredPhase,
    gameDate,
    correlationId: newCorrelationId(),
    entities: [],
    fullBatch: true,
    source: 'manual',
  });
  await ctx.backends.bus.ensureTopic(trigger.topic);
  const [outcome] = await ctx.backends.bus.publish(trigger.topic, [trigger.message]);
  return {
    deleted: copy !== null,
    copy,
    rerun: {
      topic: trigger.topic,
      correlationId: String(trigger.message.data.correlation_id),
      idempotencyKey: trigger.idempotencyKey,
      messageId: outcome?.ok ? outcome.messageId : null,
      published: outcome?.ok === true,
      error: outcome && !outcome.ok ? outcome.error : null,
    },
  };
}
