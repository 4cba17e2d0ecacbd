/**
 * The whole pipeline for one game date on one screen: each orchestrator gate, failed runs, the
 * coordinator batch against predictions written, the lease, the SLA clock, and the cheap
 * silent-failure signals. From those it picks the most urgent problem and names the exact
 * command to run next. It reads through the ports only, so it works the same on every profile;
 * on the local sandbox it also sees requests queued for the simulated coordinator.
 */

import { ENDPOINT_TOPIC, isLocalBackends } from './backends/local/index.js';
import { param, type Row } from './backends/ports.js';
import { readGate, type GateView } from './completion.js';
import type { LibContext } from './context.js';
import { readBatch, readLease, type BatchState, type Lease } from './coordinator/index.js';
import { formatDuration, slaDeadline, timeToDeadline, type GameDate } from './dates.js';
import { errorMessage } from './errors.js';
import { GATED_PHASES, type GatedPhase } from './pipeline.js';
import { FEATURE_STORE_COLUMNS } from './schema.js';

/** A gate that has heard nothing for this long, without a trigger, is stuck. */
const GATE_STUCK_MINUTES = 30;
/** Two triggers of one phase whose runs started this close together are a race, not a re-run. */
const DOUBLE_TRIGGER_WINDOW_MS = 5 * 60_000;

export interface GateStatus {
  phase: GatedPhase;
  exists: boolean;
  expected: number;
  reported: number;
  missing: string[];
  triggered: boolean;
  triggered_at: Date | null;
  trigger_message_id: string | null;
  correlation_id: string | null;
  last_report_at: Date | null;
  /** Since the last report, by the backend's clock. */
  age_ms: number | null;
}

export interface FailedRun {
  phase: string;
  processor: string;
  started_at: Date | null;
  error: string | null;
  correlation_id: string | null;
}

export interface Problem {
  code: string;
  message: string;
  next: string;
}

export interface StatusReport {
  game_date: GameDate;
  profile: string;
  checked_at: Date;
  deadline: { at: Date; ms_left: number; text: string };
  gates: GateStatus[];
  failed_runs: FailedRun[];
  coordinator: {
    exists: boolean;
    status: string | null;
    batch_id: string | null;
    expected: number;
    completed: number;
    instance: string | null;
    started_at: Date | null;
    updated_at: Date | null;
    stale: boolean;
    /** Rows in the predictions table for the date. */
    written: number | null;
    nan: number | null;
  };
  lock: { holder: string; expires_at: Date; expired: boolean } | null;
  features: { rows: number; players: number; null_critical: number } | null;
  /** Coordinator starts waiting to be served (local sandbox only; null elsewhere). */
  pending_starts: number | null;
  problems: Problem[];
  healthy: boolean;
  diagnosis: string;
  next: string;
  /** Reads that failed; the rest of the report stands. */
  unavailable: string[];
}

interface RunRow extends Row {
  processor_name: string;
  phase: string;
  status: string;
  correlation_id: string | null;
  trigger_message_id: string | null;
  started_at: Date | null;
  processed_at: Date | null;
  records_processed: number | null;
  entities_changed: number | null;
  error_message: string | null;
}

export async function pipelineStatus(ctx: LibContext, gameDate: GameDate): Promise<StatusReport> {
  const { config, backends } = ctx;
  const unavailable: string[] = [];
  const attempt = async <T>(what: string, read: () => Promise<T>, fallback: T): Promise<T> => {
    try {
      return await read();
    } catch (error) {
      unavailable.push(`${what}: ${errorMessage(error).split('\n')[0]}`);
      return fallback;
    }
  };

  const now = await backends.documents.serverTime();
  const gates = await Promise.all(GATED_PHASES.map((phase) => readGate(ctx, phase, gameDate)));
  const batch = await readBatch(ctx, gameDate);
  const lease = await readLease(ctx, gameDate);
  const runs = await attempt('run history', () => readRuns(ctx, gameDate), [] as RunRow[]);
  const predictions = await attempt('predictions', () => readPredictions(ctx, gameDate), null);
  const features = await attempt('feature store', () => readFeatures(ctx, gameDate), null);
  const pendingStarts = await attempt('message log', () => pendingStartCount(ctx, gameDate), null);

  const staleMs = config.coordinator.staleAfterMinutes * 60_000;
  const report: StatusReport = {
    game_date: gameDate,
    profile: config.profileName,
    checked_at: now,
    deadline: deadlineOf(ctx, gameDate, now),
    gates: gates.map((g) => gateStatus(g, now)),
    failed_runs: failedRuns(runs),
    coordinator: {
      exists: batch.exists,
      status: batch.status,
      batch_id: batch.batchId,
      expected: batch.expected,
      completed: batch.completed,
      instance: batch.instance,
      started_at: batch.startedAt,
      updated_at: batch.updatedAt,
      stale:
        batch.status === 'running' &&
        batch.updatedAt !== null &&
        now.getTime() - batch.updatedAt.getTime() > staleMs,
      written: predictions?.rows ?? null,
      nan: predictions?.nan ?? null,
    },
    lock: lease
      ? { holder: lease.holder, expires_at: lease.expiresAt, expired: lease.expired }
      : null,
    features,
    pending_starts: pendingStarts,
    problems: [],
    healthy: true,
    diagnosis: '',
    next: '',
    unavailable,
  };

  report.problems = diagnose({
    ctx,
    gameDate,
    now,
    gates,
    batch,
    lease,
    runs,
    report,
    predictions,
  });
  const top = report.problems[0];
  report.healthy = top === undefined;
  report.diagnosis = top?.message ?? healthyLine(report);
  report.next = top?.next ?? `pipectl health --date ${gameDate}`;
  return report;
}

// ---------------------------------------------------------------------------------------------
// Reads

async function readRuns(ctx: LibContext, gameDate: GameDate): Promise<RunRow[]> {
  return ctx.backends.warehouse.query<RunRow>(
    `SELECT processor_name, phase, status, correlation_id, trigger_message_id, started_at,
            processed_at, records_processed, entities_changed, error_message
     FROM \`${ctx.config.tables.runHistory}\`
     WHERE data_date = @date
     ORDER BY started_at`,
    { date: param.date(gameDate) },
  );
}

interface PredictionSummary {
  rows: number;
  players: number;
  nan: number;
  correlations: string[];
}

async function readPredictions(ctx: LibContext, gameDate: GameDate): Promise<PredictionSummary> {
  const [row] = await ctx.backends.warehouse.query(
    `SELECT COUNT(*) AS n, COUNT(DISTINCT player_lookup) AS players,
            COUNTIF(IS_NAN(predicted_points)) AS nan
     FROM \`${ctx.config.tables.predictions}\`
     WHERE game_date = @date`,
    { date: param.date(gameDate) },
  );
  const correlations = await ctx.backends.warehouse.query<{ correlation_id: string | null }>(
    `SELECT DISTINCT correlation_id FROM \`${ctx.config.tables.predictions}\`
     WHERE game_date = @date`,
    { date: param.date(gameDate) },
  );
  return {
    rows: Number(row?.n ?? 0),
    players: Number(row?.players ?? 0),
    nan: Number(row?.nan ?? 0),
    correlations: correlations.map((r) => r.correlation_id).filter((c): c is string => !!c),
  };
}

async function readFeatures(
  ctx: LibContext,
  gameDate: GameDate,
): Promise<NonNullable<StatusReport['features']>> {
  // Column names come from the schema, never from input, so they may be written into the SQL.
  const known = new Set(FEATURE_STORE_COLUMNS.map((c) => c.name));
  const critical = ctx.config.health.criticalFeatures.filter((name) => known.has(name));
  const nullTest = critical.length
    ? critical.map((name) => `${name} IS NULL`).join(' OR ')
    : 'FALSE';
  const [row] = await ctx.backends.warehouse.query(
    `SELECT COUNT(*) AS n, COUNT(DISTINCT player_lookup) AS players,
            COUNTIF(${nullTest}) AS null_critical
     FROM \`${ctx.config.tables.featureStore}\`
     WHERE game_date = @date`,
    { date: param.date(gameDate) },
  );
  return {
    rows: Number(row?.n ?? 0),
    players: Number(row?.players ?? 0),
    null_critical: Number(row?.null_critical ?? 0),
  };
}

/** `/start` requests and Phase 5 triggers for the date that nothing has served yet. */
async function pendingStartCount(ctx: LibContext, gameDate: GameDate): Promise<number | null> {
  const { backends, config } = ctx;
  if (!isLocalBackends(backends)) return null;
  const pending = await backends.messages.list({ pendingOnly: true });
  return pending.filter((m) => {
    const body = (m.data.body ?? m.data) as Record<string, unknown>;
    if (body.game_date !== gameDate && m.attributes.game_date !== gameDate) return false;
    if (m.topic === config.topics.phase5Trigger) return true;
    return m.topic === ENDPOINT_TOPIC && /\/(emergency-)?start$/.test(String(m.data.url ?? ''));
  }).length;
}

// ---------------------------------------------------------------------------------------------
// Diagnosis

interface Facts {
  ctx: LibContext;
  gameDate: GameDate;
  now: Date;
  gates: GateView[];
  batch: BatchState;
  lease: Lease | null;
  runs: RunRow[];
  report: StatusReport;
  predictions: PredictionSummary | null;
}

/** Every problem found, most urgent first. */
function diagnose(facts: Facts): Problem[] {
  return [
    ...stuckGates(facts),
    ...coordinatorProblems(facts),
    ...doubleTriggers(facts),
    ...silentFailures(facts),
    ...orphanedCorrelations(facts),
    ...deadlineProblems(facts),
  ];
}

function stuckGates({ gates, runs, now, gameDate, batch }: Facts): Problem[] {
  const problems: Problem[] = [];
  for (const gate of gates) {
    if (!gate.exists || gate.triggered || gate.missing.length === 0) continue;
    const failed = gate.missing.filter(
      (name) => lastRun(runs, name, gate.phase)?.status === 'failed',
    );
    const quietMs = now.getTime() - (gate.lastReportAt ?? gate.firstReportAt ?? now).getTime();
    if (failed.length === 0 && quietMs < GATE_STUCK_MINUTES * 60_000) continue;

    const names = failed.length ? failed : gate.missing;
    const why = failed.length
      ? `${names.join(', ')} failed and never reported`
      : `no report for ${formatDuration(quietMs)} from ${names.join(', ')}`;
    problems.push({
      code: 'gate-stuck',
      message:
        `Phase ${gate.phase} is stuck at ${gate.expected.length - gate.missing.length} of ` +
        `${gate.expected.length}: ${why}; Phase ${gate.phase + 1} never triggered.`,
      next:
        `pipectl orchestrator force-complete --phase ${gate.phase} --date ${gameDate} ` +
        `--processor ${names.join(' ')} --reason "${names.length === 1 ? names[0] : `${names.length} processors`} ${failed.length ? 'failed' : 'silent'}, forcing the gate"`,
    });
  }
  // A completed gate whose next phase never began: the trigger was marked but not published.
  // Once the next phase has begun anyway (someone ran it by hand), publishing the marked
  // trigger would only run it a second time, so it is no longer a problem to act on.
  for (const gate of gates) {
    const next = gates.find((g) => g.phase === gate.phase + 1);
    const nextBegan = next ? next.reported.length > 0 : batch.exists;
    if (gate.triggered && gate.unpublished && !nextBegan) {
      problems.push({
        code: 'trigger-unpublished',
        message: `Phase ${gate.phase}'s gate is marked triggered but Phase ${gate.phase + 1}'s trigger was never published.`,
        next: `pipectl orchestrator retrigger --phase ${gate.phase} --date ${gameDate}`,
      });
    }
  }
  return problems;
}

function coordinatorProblems({ gates, batch, lease, report, gameDate, now }: Facts): Problem[] {
  const problems: Problem[] = [];
  const written = report.coordinator.written ?? batch.completed;
  if (report.coordinator.stale) {
    const quiet = formatDuration(now.getTime() - batch.updatedAt!.getTime());
    problems.push({
      code: 'coordinator-stalled',
      message:
        `Phase 5 batch ${batch.batchId} stalled: ${written} of ${batch.expected} predicted, ` +
        `no progress for ${quiet}` +
        (lease
          ? `, lease ${lease.expired ? 'expired' : 'still live'} (${lease.holder})`
          : ', no lease') +
        '.',
      next: `pipectl coordinator republish --date ${gameDate}`,
    });
    return problems;
  }

  if (lease?.expired && batch.status !== 'running') {
    const ago = formatDuration(now.getTime() - lease.expiresAt.getTime());
    problems.push({
      code: 'stale-lock',
      message:
        `The coordinator lease is held by ${lease.holder}, expired ${ago} ago, and ` +
        (batch.exists ? `batch ${batch.batchId} is ${batch.status}` : 'no batch ever started') +
        ` (${written} predictions).`,
      next: `pipectl coordinator unlock --date ${gameDate}`,
    });
  }

  if (batch.status === 'running' && (report.pending_starts ?? 0) > 0) {
    problems.push({
      code: 'start-during-run',
      message:
        `A coordinator start for ${gameDate} is queued while batch ${batch.batchId} runs ` +
        `(${written} of ${batch.expected}, lease ${lease && !lease.expired ? `held by ${lease.holder}` : 'free'}): ` +
        'the execution guard must skip it; do not emergency-start.',
      next: `pipectl coordinator show --date ${gameDate}`,
    });
  }

  const phase4 = gates.find((g) => g.phase === 4);
  if (phase4?.triggered && !phase4.unpublished && !batch.exists && !lease) {
    problems.push({
      code: 'phase5-not-started',
      message: `Phase 4 triggered Phase 5 ${phase4.triggeredAt ? `${formatDuration(now.getTime() - phase4.triggeredAt.getTime())} ago` : ''} but no batch started.`,
      next: `pipectl phase run 5 --date ${gameDate}`,
    });
  }

  if (
    batch.status === 'complete' &&
    report.coordinator.written !== null &&
    written < batch.expected
  ) {
    problems.push({
      code: 'predictions-missing',
      message: `Batch ${batch.batchId} says complete but only ${written} of ${batch.expected} predictions exist.`,
      next: `pipectl coordinator reconstruct --date ${gameDate}`,
    });
  }
  return problems;
}

/** Two triggers of one phase whose runs started within minutes: the N-1-of-N race. */
function doubleTriggers({ runs, gameDate }: Facts): Problem[] {
  const problems: Problem[] = [];
  for (const phase of ['phase_3', 'phase_4', 'phase_5']) {
    const firstStart = new Map<string, number>();
    for (const run of runs) {
      if (run.phase !== phase || !run.trigger_message_id || !run.started_at) continue;
      const t = run.started_at.getTime();
      const seen = firstStart.get(run.trigger_message_id);
      if (seen === undefined || t < seen) firstStart.set(run.trigger_message_id, t);
    }
    const starts = [...firstStart.values()].sort((a, b) => a - b);
    const racing = starts.some((t, i) => i > 0 && t - starts[i - 1]! < DOUBLE_TRIGGER_WINDOW_MS);
    if (!racing) continue;
    const n = phase.slice(-1);
    problems.push({
      code: 'double-trigger',
      message:
        `Phase ${n} was triggered ${starts.length} times for ${gameDate} within minutes ` +
        `(${starts.length} trigger messages in run history): duplicate output is likely.`,
      next: `pipectl health --date ${gameDate}`,
    });
  }
  return problems;
}

function silentFailures({ runs, report, gameDate, ctx }: Facts): Problem[] {
  const problems: Problem[] = [];
  const health = `pipectl health --date ${gameDate}`;
  const { nan, written } = report.coordinator;
  if (nan !== null && nan > 0) {
    problems.push({
      code: 'nan-predictions',
      message: `${nan} of ${written} predictions for ${gameDate} are NaN.`,
      next: health,
    });
  }
  const features = report.features;
  if (features && features.rows > 0) {
    const ratio = features.null_critical / features.rows;
    if (ratio > ctx.config.health.featureNullRatioMax) {
      problems.push({
        code: 'null-features',
        message:
          `${features.null_critical} of ${features.rows} feature rows (${Math.round(ratio * 100)}%) ` +
          `have NULL ${ctx.config.health.criticalFeatures.join(' or ')}.`,
        next: health,
      });
    }
  }
  const latest = latestRuns(runs).filter((r) =>
    ['phase_2', 'phase_3', 'phase_4'].includes(r.phase),
  );
  const empty = latest.filter(
    (r) => r.status === 'success' && Number(r.records_processed ?? 0) === 0,
  );
  if (empty.length > 0) {
    problems.push({
      code: 'empty-output',
      message: `${empty.map((r) => r.processor_name).join(', ')} reported success and wrote no rows.`,
      next: health,
    });
  }
  const succeeded = latest.filter(
    (r) => r.status === 'success' && Number(r.records_processed ?? 0) > 0,
  );
  if (succeeded.length > 0 && succeeded.every((r) => Number(r.entities_changed ?? 0) === 0)) {
    problems.push({
      code: 'zero-changes',
      message:
        `All ${succeeded.length} processor runs for ${gameDate} report zero entities changed: ` +
        'change detection (the row hash) is likely broken and predictions are stale.',
      next: `pipectl changes verify-hash --date ${gameDate}`,
    });
  }
  return problems;
}

/**
 * A correlation id whose Phase 3 work finished after Phase 5 started and went no further:
 * changed entities that never reached predictions.
 */
function orphanedCorrelations({ runs, batch, predictions, gameDate }: Facts): Problem[] {
  if (!batch.exists || !batch.startedAt) return [];
  const downstream = new Set<string>([
    ...runs
      .filter((r) => r.phase === 'phase_4' || r.phase === 'phase_5')
      .map((r) => r.correlation_id ?? ''),
    ...(predictions?.correlations ?? []),
    batch.correlationId ?? '',
  ]);
  const orphans = new Map<string, number>();
  for (const run of runs) {
    if (run.phase !== 'phase_3' || run.status !== 'success' || !run.correlation_id) continue;
    if (downstream.has(run.correlation_id)) continue;
    if ((run.processed_at ?? run.started_at)! <= batch.startedAt) continue;
    orphans.set(
      run.correlation_id,
      (orphans.get(run.correlation_id) ?? 0) + Number(run.entities_changed ?? 0),
    );
  }
  return [...orphans].map(([id, changed]) => ({
    code: 'orphaned-correlation',
    message:
      `Correlation ${id} reached Phase 3 after the Phase 5 batch started (${changed} entity changes) ` +
      'and never reached Phase 5: those predictions are stale.',
    next: `pipectl phase run 4 --date ${gameDate} --reason "carry ${id} through to predictions"`,
  }));
}

function deadlineProblems({ report, gameDate }: Facts): Problem[] {
  const { coordinator, deadline } = report;
  const done = coordinator.status === 'complete';
  if (deadline.ms_left >= 0 || done) return [];
  return [
    {
      code: 'deadline-missed',
      message: `The ${gameDate} deadline passed ${formatDuration(-deadline.ms_left)} ago and predictions are not complete.`,
      next: `pipectl runbook list`,
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Helpers

function gateStatus(gate: GateView, now: Date): GateStatus {
  return {
    phase: gate.phase,
    exists: gate.exists,
    expected: gate.expected.length,
    reported: gate.expected.length - gate.missing.length,
    missing: gate.missing,
    triggered: gate.triggered,
    triggered_at: gate.triggeredAt,
    trigger_message_id: gate.triggerMessageId,
    correlation_id: gate.correlationId,
    last_report_at: gate.lastReportAt,
    age_ms: gate.lastReportAt ? now.getTime() - gate.lastReportAt.getTime() : null,
  };
}

/** The latest failed run of each processor that has not succeeded since. */
function failedRuns(runs: RunRow[]): FailedRun[] {
  return latestRuns(runs)
    .filter((r) => r.status === 'failed')
    .map((r) => ({
      phase: r.phase,
      processor: r.processor_name,
      started_at: r.started_at,
      error: r.error_message,
      correlation_id: r.correlation_id,
    }));
}

function latestRuns(runs: RunRow[]): RunRow[] {
  const latest = new Map<string, RunRow>();
  for (const run of runs) latest.set(`${run.phase}/${run.processor_name}`, run);
  return [...latest.values()];
}

function lastRun(runs: RunRow[], processor: string, phase: GatedPhase): RunRow | undefined {
  return runs.filter((r) => r.processor_name === processor && r.phase === `phase_${phase}`).at(-1);
}

function deadlineOf(ctx: LibContext, gameDate: GameDate, now: Date): StatusReport['deadline'] {
  const ms = timeToDeadline(gameDate, ctx.config.sla, now);
  return {
    at: slaDeadline(gameDate, ctx.config.sla),
    ms_left: ms,
    text:
      ms >= 0
        ? `${formatDuration(ms)} to the ${ctx.config.sla.deadline} deadline`
        : `deadline ${ctx.config.sla.deadline} passed ${formatDuration(-ms)} ago`,
  };
}

function healthyLine(report: StatusReport): string {
  const { coordinator, gates } = report;
  if (coordinator.status === 'complete') {
    return `Healthy: every gate triggered, ${coordinator.written ?? coordinator.completed} of ${coordinator.expected} predictions written.`;
  }
  if (coordinator.status === 'running') {
    return `In progress: Phase 5 batch running, ${coordinator.written ?? coordinator.completed} of ${coordinator.expected} predicted.`;
  }
  const open = gates.find((g) => g.exists && !g.triggered);
  if (open) return `In progress: Phase ${open.phase} at ${open.reported} of ${open.expected}.`;
  return `Nothing has run for ${report.game_date} yet.`;
}
