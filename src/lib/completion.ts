/**
 * The orchestrator gates. Each processor of phase N reports to `phase{N}_completion/{date}`;
 * when every expected processor has reported success, the gate publishes phase N+1's trigger.
 *
 * Exactly once rests on one rule: the report and the decision to trigger are written in ONE
 * document transaction. Two processors finishing together both read "N-1 of N", but only one
 * commit can win; the other transaction re-runs, sees the gate already marked `_triggered`,
 * and records its report without triggering. The message is published only after that commit
 * and its id written back, so a crash in between leaves a gate that is marked but has no
 * `_trigger_message_id`: `readGate` shows it and `retrigger` finishes it with the same
 * idempotency key, so a consumer that already saw a message drops the repeat.
 *
 * A report with status `failed` is recorded (it shows in `orchestrator show`) but does not
 * count toward completion: a failed processor must never silently complete a gate. A later
 * success from the same processor replaces it; anything after a success is a duplicate.
 */

import { ServerTimestamp, type DocData, type DocTransaction } from './backends/ports.js';
import { docPath } from './backends/paths.js';
import { gateCollection, processorsFor, type ResolvedConfig } from './config.js';
import type { LibContext } from './context.js';
import type { GameDate } from './dates.js';
import { OperationFailed, Refusal, UserError } from './errors.js';
import { GATED_PHASES, type GatedPhase } from './pipeline.js';
import {
  buildPhaseTrigger,
  mergeEntities,
  type PhaseTrigger,
  type TriggeredPhase,
} from './triggers.js';

/** Firestore transactions on a hot gate document retry often; 21+ writers need many attempts. */
export const GATE_TX_ATTEMPTS = 500;

/** Test-only: kill this process between the trigger commit and the publish (crash drills). */
export const CRASH_HOOK_ENV = 'PIPECTL_TEST_CRASH_AFTER_TRIGGER_COMMIT';

export interface ProcessorReport {
  processor: string;
  status: 'success' | 'failed';
  correlationId: string;
  recordCount: number;
  entitiesChanged: string[];
  /** An operator recorded this report in place of the processor (`force-complete`). */
  forced?: { by: string; reason: string | null };
  /** The processor reprocessed every entity; downstream should too. */
  fullBatch?: boolean;
}

export interface RecordOutcome {
  duplicate: boolean;
  reported: number;
  expected: number;
  /** This call completed the gate (and marked it triggered). */
  triggered: boolean;
  trigger?: {
    topic: string;
    messageId: string | null;
    published: boolean;
    entities: string[];
    fullBatch: boolean;
  };
}

export interface ReportEntry {
  processor: string;
  status: 'success' | 'failed';
  completedAt: Date | null;
  correlationId: string | null;
  recordCount: number;
  entitiesChanged: string[];
  forced: boolean;
  forcedBy: string | null;
  reason: string | null;
  /** False for a report from a processor the configuration no longer expects. */
  expected: boolean;
}

export interface GateView {
  phase: GatedPhase;
  gameDate: GameDate;
  exists: boolean;
  expected: string[];
  reported: ReportEntry[];
  /** Expected processors without a successful report (failed reports count as missing). */
  missing: string[];
  triggered: boolean;
  triggeredAt: Date | null;
  triggerMessageId: string | null;
  correlationId: string | null;
  firstReportAt: Date | null;
  lastReportAt: Date | null;
  /** Marked triggered but no message id recorded: the publish never happened (or crashed). */
  unpublished: boolean;
  /** Completed by `force-complete --no-trigger`: marked on purpose without a message. */
  triggerSuppressed: boolean;
  triggerTopic: string | null;
  triggerIdempotencyKey: string | null;
  triggerPublishedAt: Date | null;
  entities: string[];
  fullBatch: boolean;
}

// ---------------------------------------------------------------------------------------------
// Reading the document

interface StoredReport {
  completed_at: Date | null;
  status: 'success' | 'failed';
  correlation_id: string | null;
  record_count: number;
  entities_changed: string[];
  forced: boolean;
  forced_by: string | null;
  reason: string | null;
  /** The processor reprocessed everything; its entity list is not the whole story. */
  full_batch: boolean;
}

interface GateDoc {
  reports: Map<string, StoredReport>;
  triggered: boolean;
  triggeredAt: Date | null;
  triggerMessageId: string | null;
  triggerPublishedAt: Date | null;
  correlationId: string | null;
  triggerTopic: string | null;
  triggerKey: string | null;
  triggerSuppressed: boolean;
  entities: string[];
  fullBatch: boolean;
}

function parseGate(data: DocData | undefined): GateDoc {
  const d = data ?? {};
  const reports = new Map<string, StoredReport>();
  for (const [key, value] of Object.entries(d)) {
    if (key.startsWith('_') || !isMap(value)) continue;
    reports.set(key, parseReport(value));
  }
  return {
    reports,
    triggered: d._triggered === true,
    triggeredAt: asDate(d._triggered_at),
    triggerMessageId: asString(d._trigger_message_id),
    triggerPublishedAt: asDate(d._trigger_published_at),
    correlationId: asString(d._correlation_id),
    triggerTopic: asString(d._trigger_topic),
    triggerKey: asString(d._trigger_idempotency_key),
    triggerSuppressed: d._trigger_suppressed === true,
    entities: asStrings(d._entities),
    fullBatch: d._full_batch === true,
  };
}

function parseReport(value: DocData): StoredReport {
  return {
    completed_at: asDate(value.completed_at),
    // Anything but an explicit success is treated as not done: a gate must not complete on
    // a report it cannot read.
    status: value.status === 'success' ? 'success' : 'failed',
    correlation_id: asString(value.correlation_id),
    record_count: typeof value.record_count === 'number' ? value.record_count : 0,
    entities_changed: asStrings(value.entities_changed),
    forced: value.forced === true,
    forced_by: asString(value.forced_by),
    reason: asString(value.reason),
    full_batch: value.full_batch === true,
  };
}

function isMap(value: unknown): value is DocData {
  return (
    value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date)
  );
}
function asDate(value: unknown): Date | null {
  return value instanceof Date ? value : null;
}
function asString(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}
function asStrings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

// ---------------------------------------------------------------------------------------------
// Names

export function checkPhase(phase: number): GatedPhase {
  if (!(GATED_PHASES as readonly number[]).includes(phase)) {
    throw new UserError(`Phase ${phase} has no orchestrator gate`, {
      hint: `Gated phases: ${GATED_PHASES.join(', ')} (the gate of phase N triggers phase N+1).`,
    });
  }
  return phase as GatedPhase;
}

export function expectedProcessors(config: ResolvedConfig, phase: GatedPhase): string[] {
  return processorsFor(config, phase).map((p) => p.name);
}

/** Refuses names the gate does not expect, listing the ones it does. */
export function checkProcessors(
  config: ResolvedConfig,
  phase: GatedPhase,
  names: readonly string[],
): void {
  const expected = expectedProcessors(config, phase);
  const unknown = names.filter((n) => !expected.includes(n));
  if (unknown.length > 0) {
    throw new UserError(
      `Phase ${phase}'s gate does not expect ${unknown.map((n) => `"${n}"`).join(', ')}`,
      { hint: `Processors of phase ${phase}: ${expected.join(', ')}.` },
    );
  }
}

export function gatePath(config: ResolvedConfig, phase: GatedPhase, gameDate: GameDate): string {
  return docPath(gateCollection(config, phase), gameDate);
}

function checkReport(report: ProcessorReport): void {
  if (report.status !== 'success' && report.status !== 'failed') {
    throw new UserError(`Report status "${String(report.status)}" is not valid`, {
      hint: 'Accepted: success or failed.',
    });
  }
  if (!Number.isInteger(report.recordCount) || report.recordCount < 0) {
    throw new UserError(`Record count ${report.recordCount} is not a whole number >= 0`);
  }
  if (typeof report.correlationId !== 'string' || report.correlationId.length === 0) {
    throw new UserError('A report needs a correlation id');
  }
}

// ---------------------------------------------------------------------------------------------
// Recording reports

export interface RecordOptions {
  /**
   * False: if these reports complete the gate, mark it triggered (so nobody triggers later)
   * but publish nothing; the operator starts the next phase another way.
   */
  publish?: boolean;
}

interface ApplyResult {
  /** Per processor: true when its report changed nothing. */
  duplicates: Map<string, boolean>;
  reported: number;
  expected: number;
  marked: MarkedTrigger | null;
}

interface MarkedTrigger {
  correlationId: string;
  entities: string[];
  fullBatch: boolean;
  topic: string;
  idempotencyKey: string;
}

/** The trigger a completed gate of `phase` publishes: phase N+1's. */
function nextPhaseTrigger(
  config: ResolvedConfig,
  phase: GatedPhase,
  gameDate: GameDate,
  marked: Pick<MarkedTrigger, 'correlationId' | 'entities' | 'fullBatch'>,
  source: string,
): PhaseTrigger {
  return buildPhaseTrigger(config, {
    phase: (phase + 1) as TriggeredPhase,
    gameDate,
    correlationId: marked.correlationId,
    entities: marked.entities,
    fullBatch: marked.fullBatch,
    source,
  });
}

/**
 * Records one processor's report; when it is the last expected one, marks the gate triggered
 * in the same transaction and then publishes phase N+1's trigger.
 */
export async function recordReport(
  ctx: LibContext,
  phase: GatedPhase,
  gameDate: GameDate,
  report: ProcessorReport,
): Promise<RecordOutcome> {
  const [outcome] = await recordReports(ctx, phase, gameDate, [report]);
  return outcome!;
}

/**
 * Records several reports in ONE transaction (force-complete uses this). Returns one outcome
 * per report; at most one of them has `triggered`.
 */
export async function recordReports(
  ctx: LibContext,
  phase: GatedPhase,
  gameDate: GameDate,
  reports: ProcessorReport[],
  options: RecordOptions = {},
): Promise<RecordOutcome[]> {
  checkPhase(phase);
  checkProcessors(
    ctx.config,
    phase,
    reports.map((r) => r.processor),
  );
  reports.forEach(checkReport);

  const path = gatePath(ctx.config, phase, gameDate);
  const expected = expectedProcessors(ctx.config, phase);
  const applied = await ctx.backends.documents.transaction(
    (tx) =>
      applyReports(
        tx,
        path,
        expected,
        reports,
        { entityCap: ctx.config.entityCap, suppress: options.publish === false },
        (marked) => nextPhaseTrigger(ctx.config, phase, gameDate, marked, 'orchestrator'),
      ),
    { maxAttempts: GATE_TX_ATTEMPTS },
  );

  let trigger: RecordOutcome['trigger'];
  if (applied.marked && options.publish !== false) {
    if (process.env[CRASH_HOOK_ENV] === '1') process.kill(process.pid, 'SIGKILL');
    trigger = await publishMarked(ctx, phase, gameDate, applied.marked, 'orchestrator');
  }

  const lastNew = [...reports].reverse().find((r) => !applied.duplicates.get(r.processor));
  return reports.map((r) => {
    const completes = applied.marked !== null && r === lastNew;
    return {
      duplicate: applied.duplicates.get(r.processor) ?? false,
      reported: applied.reported,
      expected: applied.expected,
      triggered: completes,
      ...(completes && trigger ? { trigger } : {}),
    };
  });
}

async function applyReports(
  tx: DocTransaction,
  path: string,
  expected: string[],
  reports: ProcessorReport[],
  settings: { entityCap: number; suppress: boolean },
  triggerFor: (
    marked: Pick<MarkedTrigger, 'correlationId' | 'entities' | 'fullBatch'>,
  ) => PhaseTrigger,
): Promise<ApplyResult> {
  const snap = await tx.get(path);
  const gate = parseGate(snap.data);
  const after = new Map(gate.reports);
  const writes: DocData = {};
  const duplicates = new Map<string, boolean>();

  for (const report of reports) {
    const previous = after.get(report.processor);
    // A success is final; a failure after a failure adds nothing. A success after a failure
    // is the retry that worked, and replaces it.
    const duplicate =
      previous !== undefined && (previous.status === 'success' || report.status === 'failed');
    duplicates.set(report.processor, duplicate);
    if (duplicate) continue;
    const entry = storedEntry(report);
    after.set(report.processor, { ...entry, completed_at: null });
    writes[report.processor] = { ...entry, completed_at: ServerTimestamp };
  }

  const done = expected.filter((p) => after.get(p)?.status === 'success');
  const successes = [...after.values()].filter((r) => r.status === 'success').length;
  if (done.length > expected.length || (!gate.triggered && successes > expected.length)) {
    throw new OperationFailed(
      `Gate ${path} would hold ${successes} successful reports for ${expected.length} expected`,
      { hint: 'The document was edited by hand or the configuration changed; inspect it.' },
    );
  }
  const result: ApplyResult = {
    duplicates,
    reported: done.length,
    expected: expected.length,
    marked: null,
  };
  if (Object.keys(writes).length === 0) return result;

  const correlationId = gate.correlationId ?? reports[0]!.correlationId;
  if (!gate.triggered && done.length === expected.length) {
    const counted = expected.map((p) => after.get(p)!);
    const merged = mergeEntities(
      counted.map((r) => r.entities_changed),
      settings.entityCap,
    );
    // A forced report says nothing about what changed, so downstream must reprocess it all.
    const fullBatch = merged.fullBatch || counted.some((r) => r.forced || r.full_batch);
    const entities = fullBatch ? [] : merged.entities;
    const trigger = triggerFor({ correlationId, entities, fullBatch });
    result.marked = {
      correlationId,
      entities,
      fullBatch,
      topic: trigger.topic,
      idempotencyKey: trigger.idempotencyKey,
    };
    // Everything a later `retrigger` needs to publish the same message with the same key.
    Object.assign(writes, {
      _triggered: true,
      _triggered_at: ServerTimestamp,
      _trigger_message_id: null,
      _trigger_topic: trigger.topic,
      _trigger_idempotency_key: trigger.idempotencyKey,
      _entities: entities,
      _full_batch: fullBatch,
      ...(settings.suppress ? { _trigger_suppressed: true } : {}),
    });
  }

  if (!snap.exists) {
    tx.set(path, {
      _triggered: false,
      _trigger_message_id: null,
      _correlation_id: correlationId,
      _created_at: ServerTimestamp,
      ...writes,
    });
  } else {
    if (!gate.correlationId) writes._correlation_id = correlationId;
    tx.update(path, writes);
  }
  return result;
}

function storedEntry(report: ProcessorReport): Omit<StoredReport, 'completed_at'> {
  return {
    status: report.status,
    correlation_id: report.correlationId,
    record_count: report.recordCount,
    entities_changed: mergeEntities([report.entitiesChanged], Number.MAX_SAFE_INTEGER).entities,
    forced: report.forced !== undefined,
    forced_by: report.forced?.by ?? null,
    reason: report.forced?.reason ?? null,
    full_batch: report.fullBatch === true,
  };
}

// ---------------------------------------------------------------------------------------------
// Publishing a marked trigger

/**
 * Publishes the trigger a gate was marked with, then records its message id on the gate. The
 * key is derived from the gate's correlation id, so every attempt (the first, a `retrigger`
 * after a crash) carries the same idempotency key.
 */
async function publishMarked(
  ctx: LibContext,
  phase: GatedPhase,
  gameDate: GameDate,
  marked: MarkedTrigger,
  source: string,
): Promise<NonNullable<RecordOutcome['trigger']>> {
  const trigger = nextPhaseTrigger(ctx.config, phase, gameDate, marked, source);
  if (trigger.idempotencyKey !== marked.idempotencyKey || trigger.topic !== marked.topic) {
    // The configuration changed since the gate was marked; publishing elsewhere or under a new
    // key would defeat the consumers' deduplication.
    throw new OperationFailed(
      `The phase ${phase + 1} trigger for ${gameDate} would go to ${trigger.topic} as ${trigger.idempotencyKey}, but the gate was marked for ${marked.topic} as ${marked.idempotencyKey}`,
      { hint: 'Restore the configuration the gate was marked with, or reset the gate.' },
    );
  }
  const base = { topic: trigger.topic, entities: marked.entities, fullBatch: marked.fullBatch };
  // Limitation: two publishers of one marked trigger (a slow orchestrator and a `retrigger`
  // started at the same instant) can both publish; both messages carry the same idempotency
  // key, so consumers drop the second, and only the first message id is recorded on the gate.

  let outcome;
  try {
    await ctx.backends.bus.ensureTopic(trigger.topic);
    [outcome] = await ctx.backends.bus.publish(trigger.topic, [trigger.message]);
  } catch (error) {
    outcome = { ok: false as const, error: (error as Error).message };
  }
  if (!outcome?.ok) {
    ctx.log?.({
      level: 'warn',
      message: `Phase ${phase + 1} trigger for ${gameDate} was not published: ${outcome?.error ?? 'no outcome'}`,
      hint: `Run: pipectl orchestrator retrigger --phase ${phase} --date ${gameDate}`,
    });
    return { ...base, messageId: null, published: false };
  }

  const path = gatePath(ctx.config, phase, gameDate);
  await ctx.backends.documents.transaction(
    async (tx) => {
      const gate = parseGate((await tx.get(path)).data);
      // A reset in between deleted the gate; a concurrent retrigger already recorded its id.
      if (!gate.triggered || gate.triggerMessageId !== null) return;
      tx.update(path, {
        _trigger_message_id: outcome.messageId,
        _trigger_published_at: ServerTimestamp,
      });
    },
    { maxAttempts: GATE_TX_ATTEMPTS },
  );
  return { ...base, messageId: outcome.messageId, published: true };
}

export interface RetriggerResult {
  topic: string;
  messageId: string | null;
  published: boolean;
  idempotencyKey: string;
  entities: string[];
  fullBatch: boolean;
}

/**
 * A marked trigger that was never published may have been made moot by hand: someone ran the
 * next phase directly. Publishing it then would run that phase a second time, so `retrigger`
 * refuses (exit 3) once the next phase shows any sign of having begun.
 */
export async function refuseIfNextPhaseBegan(
  ctx: LibContext,
  phase: GatedPhase,
  gameDate: GameDate,
): Promise<void> {
  let began: string | null = null;
  if (phase < 4) {
    const next = await readGate(ctx, (phase + 1) as GatedPhase, gameDate);
    if (next.reported.length > 0) {
      began = `${next.reported.length} phase ${phase + 1} processor(s) already reported`;
    }
  } else {
    const batch = await ctx.backends.documents.get(
      docPath(ctx.config.collections.predictions, gameDate),
    );
    if (batch.exists) began = 'a Phase 5 batch already exists';
  }
  if (began) {
    throw new Refusal(
      `Phase ${phase + 1} for ${gameDate} has begun without this trigger (${began}); publishing it now would run the phase twice`,
      {
        hint: `See pipectl status --date ${gameDate}; to run it again on purpose: pipectl orchestrator reset --phase ${phase + 1} --date ${gameDate} --rerun`,
      },
    );
  }
}

/** What `retrigger` would publish for a marked gate, or why it refuses. */
export function planRetrigger(gate: GateView): MarkedTrigger {
  if (!gate.exists || !gate.triggered) {
    throw new Refusal(
      `Phase ${gate.phase}'s gate for ${gate.gameDate} is not marked triggered: nothing to finish`,
      {
        hint:
          gate.missing.length > 0
            ? `It waits for ${gate.missing.length} processor(s); see: pipectl orchestrator show --phase ${gate.phase} --date ${gate.gameDate}`
            : undefined,
      },
    );
  }
  if (gate.triggerMessageId !== null) {
    throw new Refusal(
      `Phase ${gate.phase + 1}'s trigger for ${gate.gameDate} was already published (message ${gate.triggerMessageId})`,
      {
        hint: `To run phase ${gate.phase + 1} again, use: pipectl orchestrator reset --phase ${gate.phase + 1} --date ${gate.gameDate} --rerun`,
      },
    );
  }
  if (!gate.correlationId || !gate.triggerTopic || !gate.triggerIdempotencyKey) {
    throw new OperationFailed(
      `Phase ${gate.phase}'s gate for ${gate.gameDate} is marked triggered but lacks its trigger's correlation id, topic or key`,
      { hint: 'The document was edited by hand; reset the gate and rerun the phase.' },
    );
  }
  return {
    correlationId: gate.correlationId,
    entities: gate.entities,
    fullBatch: gate.fullBatch,
    topic: gate.triggerTopic,
    idempotencyKey: gate.triggerIdempotencyKey,
  };
}

/**
 * Finishes a trigger that was marked but never published, with the same idempotency key the
 * first attempt used. Refuses (exit 3) when the gate is not marked or was already published.
 */
export async function retrigger(
  ctx: LibContext,
  phase: GatedPhase,
  gameDate: GameDate,
): Promise<RetriggerResult> {
  const gate = await readGate(ctx, phase, gameDate);
  const marked = planRetrigger(gate);
  await refuseIfNextPhaseBegan(ctx, phase, gameDate);
  const published = await publishMarked(ctx, phase, gameDate, marked, 'retrigger');
  return { ...published, idempotencyKey: marked.idempotencyKey };
}

// ---------------------------------------------------------------------------------------------
// Reading a gate

export async function readGate(
  ctx: LibContext,
  phase: GatedPhase,
  gameDate: GameDate,
): Promise<GateView> {
  checkPhase(phase);
  const snap = await ctx.backends.documents.get(gatePath(ctx.config, phase, gameDate));
  return gateView(ctx.config, phase, gameDate, snap.exists, snap.data);
}

export function gateView(
  config: ResolvedConfig,
  phase: GatedPhase,
  gameDate: GameDate,
  exists: boolean,
  data: DocData | undefined,
): GateView {
  const gate = parseGate(data);
  const expected = expectedProcessors(config, phase);
  const reported: ReportEntry[] = [...gate.reports.entries()]
    .map(([processor, r]) => ({
      processor,
      status: r.status,
      completedAt: r.completed_at,
      correlationId: r.correlation_id,
      recordCount: r.record_count,
      entitiesChanged: r.entities_changed,
      forced: r.forced,
      forcedBy: r.forced_by,
      reason: r.reason,
      expected: expected.includes(processor),
    }))
    .sort((a, b) => order(expected, a.processor) - order(expected, b.processor));
  const times = reported
    .map((r) => r.completedAt?.getTime())
    .filter((t): t is number => t !== undefined);
  return {
    phase,
    gameDate,
    exists,
    expected,
    reported,
    missing: expected.filter((p) => gate.reports.get(p)?.status !== 'success'),
    triggered: gate.triggered,
    triggeredAt: gate.triggeredAt,
    triggerMessageId: gate.triggerMessageId,
    correlationId: gate.correlationId,
    firstReportAt: times.length ? new Date(Math.min(...times)) : null,
    lastReportAt: times.length ? new Date(Math.max(...times)) : null,
    unpublished: gate.triggered && gate.triggerMessageId === null && !gate.triggerSuppressed,
    triggerSuppressed: gate.triggerSuppressed,
    triggerTopic: gate.triggerTopic,
    triggerIdempotencyKey: gate.triggerKey,
    triggerPublishedAt: gate.triggerPublishedAt,
    entities: gate.entities,
    fullBatch: gate.fullBatch,
  };
}

function order(expected: string[], name: string): number {
  const index = expected.indexOf(name);
  return index === -1 ? expected.length : index;
}
