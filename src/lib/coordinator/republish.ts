/**
 * Republishing: one `prediction-request` per player that the batch expects, that has no
 * prediction, and that no earlier republish of this batch already requested. After each
 * publish batch the ledger `predictions/{date}/republished/{player}` records what went out, so
 * a run stopped at any point (Ctrl-C, a crash, SIGKILL, a partial failure) is finished by
 * running it again, and at most one publish batch is ever sent twice.
 */

import { ServerTimestamp } from '../backends/ports.js';
import type { LibContext } from '../context.js';
import type { GameDate } from '../dates.js';
import { OperationFailed, Refusal, UserError, errorMessage } from '../errors.js';
import { readBatch } from './batch.js';
import {
  acquireLease,
  heldByDeadLocalProcess,
  readLease,
  releaseLease,
  renewLease,
  type Lease,
} from './lease.js';
import { buildPredictionRequest, predictionRequestKey } from './messages.js';
import { republishedCollection, republishedPath } from './paths.js';
import { reconstruct } from './reconstruct.js';
import { str } from './values.js';

export interface RepublishSelection {
  /** Only these players (still subject to the expected / predicted / ledger rules). */
  players?: string[];
  /** At most this many requests in this run; the rest stay for the next run. */
  limit?: number;
  since?: Date | null;
}

export interface RepublishPlan {
  gameDate: GameDate;
  batchId: string;
  correlationId: string;
  /** Where the ids came from: the batch document, or the latest prediction rows. */
  idsFrom: 'batch' | 'warehouse';
  expected: number;
  completed: number;
  /** Players to request, sorted, with the attempt number each request carries. */
  requests: Array<{ player: string; attempt: number }>;
  skipped: { predicted: number; republished: number; notExpected: number; overLimit: number };
}

interface LedgerEntry {
  batchId: string | null;
  attempt: number;
}

/** Ledger listings are read in one go; the ceiling only guards against a runaway collection. */
const LEDGER_LIST_LIMIT = 1_000_000;

export async function planRepublish(
  ctx: LibContext,
  gameDate: GameDate,
  selection: RepublishSelection = {},
): Promise<RepublishPlan> {
  // Three independent reads, side by side: the batch document, the warehouse, the ledger.
  const [batch, found, ledger] = await Promise.all([
    readBatch(ctx, gameDate),
    reconstruct(ctx, gameDate, {
      since: selection.since ?? null,
      withPredicted: selection.players !== undefined,
    }),
    readLedger(ctx, gameDate),
  ]);

  const batchId = batch.batchId ?? found.latestBatchId;
  const correlationId = batch.correlationId ?? found.latestCorrelationId;
  if (batchId === null || correlationId === null) {
    throw new Refusal(`There is no batch to republish into for ${gameDate}`, {
      hint:
        'No batch document and no prediction rows name a batch. Run `pipectl coordinator ' +
        'reconstruct --write` to create the batch state, or start Phase 5 with `pipectl phase ' +
        'run 5`.',
    });
  }

  const wanted = selection.players ? new Set(selection.players) : null;
  const expectedSet = wanted ? new Set([...found.missing, ...found.predicted]) : null;
  const predictedSet = wanted ? new Set(found.predicted) : null;

  const skipped = { predicted: 0, republished: 0, notExpected: 0, overLimit: 0 };
  if (wanted) {
    for (const player of wanted) {
      if (!expectedSet!.has(player)) skipped.notExpected += 1;
      else if (predictedSet!.has(player)) skipped.predicted += 1;
    }
  } else {
    skipped.predicted = found.completed;
  }

  const requests: RepublishPlan['requests'] = [];
  for (const player of found.missing) {
    if (wanted && !wanted.has(player)) continue;
    const entry = ledger.get(player);
    if (entry && entry.batchId === batchId) {
      skipped.republished += 1;
      continue;
    }
    if (selection.limit !== undefined && requests.length >= selection.limit) {
      skipped.overLimit += 1;
      continue;
    }
    requests.push({ player, attempt: (entry?.attempt ?? 1) + 1 });
  }

  return {
    gameDate,
    batchId,
    correlationId,
    idsFrom: batch.batchId !== null && batch.correlationId !== null ? 'batch' : 'warehouse',
    expected: found.expected,
    completed: found.completed,
    requests,
    skipped,
  };
}

/**
 * The same plan with a fresh look at the ledger: what another run recorded since the plan was
 * made is dropped. Used once the republish lease is held, so the final list cannot overlap
 * with a run that finished in between.
 */
export async function refreshPlan(ctx: LibContext, plan: RepublishPlan): Promise<RepublishPlan> {
  const ledger = await readLedger(ctx, plan.gameDate);
  const requests = plan.requests.filter((r) => ledger.get(r.player)?.batchId !== plan.batchId);
  return {
    ...plan,
    requests,
    skipped: {
      ...plan.skipped,
      republished: plan.skipped.republished + plan.requests.length - requests.length,
    },
  };
}

async function readLedger(ctx: LibContext, gameDate: GameDate): Promise<Map<string, LedgerEntry>> {
  const docs = await ctx.backends.documents.list(republishedCollection(ctx.config, gameDate), {
    limit: LEDGER_LIST_LIMIT,
  });
  const ledger = new Map<string, LedgerEntry>();
  for (const doc of docs) {
    const attempt = doc.data?.attempt;
    ledger.set(doc.id, {
      batchId: str(doc.data?.batch_id),
      attempt: typeof attempt === 'number' && Number.isFinite(attempt) ? attempt : 1,
    });
  }
  return ledger;
}

// ---------------------------------------------------------------------------------------------
// Leases for the duration of a run

export interface RepublishLeases {
  holder: string;
  /** False when --force went ahead although a live coordinator holds its lease. */
  holdsCoordinatorLease: boolean;
  /** The live coordinator lease that was overridden with --force, if any. */
  overridden: Lease | null;
}

/**
 * Two leases: the republish lease keeps two republish runs apart (never overridable), and the
 * coordinator lease keeps a restarted coordinator or the 06:00 backup start from fanning out
 * the same date while we republish. A live coordinator lease refuses the run unless forced.
 * Leases left by a pipectl process on this host that no longer exists (killed) are taken over.
 */
export async function takeRepublishLeases(
  ctx: LibContext,
  gameDate: GameDate,
  holder: string,
  options: { force?: boolean } = {},
): Promise<RepublishLeases> {
  const ttl = ctx.config.coordinator.leaseSeconds;
  const [own, coordinator] = await Promise.all([
    acquireLease(ctx, gameDate, holder, ttl, {
      kind: 'republish',
      takeOver: heldByDeadLocalProcess,
    }),
    acquireLease(ctx, gameDate, holder, ttl, { takeOver: heldByDeadLocalProcess }),
  ]);
  const leases = { holder, holdsCoordinatorLease: coordinator.acquired, overridden: null };
  if (own.acquired && coordinator.acquired) return leases;
  if (own.acquired && options.force === true) return { ...leases, overridden: coordinator.lease };

  // Refused: give back whichever of the two was taken.
  await releaseRepublishLeases(ctx, gameDate, { ...leases, holdsOwnLease: own.acquired });
  throw own.acquired
    ? coordinatorActive(gameDate, coordinator.lease)
    : republishRunning(gameDate, own.lease);
}

/** Read-only version of the same guard, for the plan and --dry-run (which take no lease). */
export async function checkRepublishLeases(
  ctx: LibContext,
  gameDate: GameDate,
  options: { force?: boolean } = {},
): Promise<{ coordinator: Lease | null }> {
  const own = await readLease(ctx, gameDate, { kind: 'republish' });
  if (own && !own.expired && !heldByDeadLocalProcess(own)) throw republishRunning(gameDate, own);
  const coordinator = await readLease(ctx, gameDate);
  const live = coordinator !== null && !coordinator.expired && !heldByDeadLocalProcess(coordinator);
  if (live && options.force !== true) throw coordinatorActive(gameDate, coordinator);
  return { coordinator: live ? coordinator : null };
}

export async function releaseRepublishLeases(
  ctx: LibContext,
  gameDate: GameDate,
  leases: RepublishLeases & { holdsOwnLease?: boolean },
): Promise<void> {
  await Promise.all([
    leases.holdsCoordinatorLease ? releaseLease(ctx, gameDate, leases.holder) : undefined,
    leases.holdsOwnLease === false
      ? undefined
      : releaseLease(ctx, gameDate, leases.holder, { kind: 'republish' }),
  ]);
}

function republishRunning(gameDate: GameDate, lease: Lease): Refusal {
  return new Refusal(
    `Another republish for ${gameDate} is running (${lease.holder}, lease until ${lease.expiresAt.toISOString()})`,
    { hint: 'Let it finish; running republish again afterwards requests only what is left.' },
  );
}

function coordinatorActive(gameDate: GameDate, lease: Lease): Refusal {
  return new Refusal(
    `A live coordinator holds the lease for ${gameDate} (${lease.holder}, until ${lease.expiresAt.toISOString()})`,
    {
      hint:
        'Wait for it to finish or for the lease to expire (`pipectl coordinator lock`). If it is ' +
        'known to be dead, add --force --reason "...".',
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Publishing

export interface RepublishOptions {
  batchSize: number;
  /** Messages per second; unlimited when absent. */
  ratePerSecond?: number;
  /** Stops between batches (Ctrl-C): the current batch is published and recorded first. */
  signal?: AbortSignal;
  /** Keeps the leases alive on long runs. */
  leases?: RepublishLeases;
  onBatch?: (report: BatchReport) => void;
  /** The caller already made sure the topic exists (and warmed the connection doing so). */
  topicReady?: boolean;
}

export interface BatchReport {
  batch: number;
  published: number;
  failed: Array<{ player: string; error: string }>;
  done: number;
  total: number;
}

export interface RepublishResult {
  published: number;
  skipped: number;
  failed: number;
  /** The first failures, for the summary; every failure is also reported per batch. */
  failures: Array<{ player: string; error: string }>;
  interrupted: boolean;
  /** Requests left unsent because the run stopped early. */
  remaining: number;
}

const FAILURES_KEPT = 100;
/** Firestore takes at most 500 writes per commit; a publish batch may be up to 1000. */
const LEDGER_WRITES_PER_COMMIT = 400;

export async function publishRequests(
  ctx: LibContext,
  plan: RepublishPlan,
  options: RepublishOptions,
): Promise<RepublishResult> {
  const { bus, documents } = ctx.backends;
  const topic = ctx.config.topics.predictionRequest;
  const batchSize = Math.max(1, Math.min(options.batchSize, options.ratePerSecond ?? Infinity));
  const total = plan.requests.length;
  const skipped =
    plan.skipped.predicted +
    plan.skipped.republished +
    plan.skipped.notExpected +
    plan.skipped.overLimit;
  const result: RepublishResult = {
    published: 0,
    skipped,
    failed: 0,
    failures: [],
    interrupted: false,
    remaining: 0,
  };
  if (total === 0) return result;
  if (options.topicReady !== true) await bus.ensureTopic(topic);

  const started = Date.now();
  const renewEveryMs = (ctx.config.coordinator.leaseSeconds * 1000) / 3;
  let renewedAt = Date.now();
  let done = 0;

  for (let offset = 0, batch = 1; offset < total; offset += batchSize, batch++) {
    if (options.signal?.aborted) {
      result.interrupted = true;
      result.remaining = total - offset;
      break;
    }
    if (options.ratePerSecond !== undefined) {
      await waitForRate(started, offset, options.ratePerSecond);
    }
    if (options.leases && Date.now() - renewedAt > renewEveryMs) {
      await keepLeases(ctx, plan.gameDate, options.leases);
      renewedAt = Date.now();
    }

    const chunk = plan.requests.slice(offset, offset + batchSize);
    const failures: BatchReport['failed'] = [];
    const recordable: Array<{ player: string; attempt: number; path: string }> = [];
    const messages = [];
    for (const request of chunk) {
      try {
        // A name that cannot be a ledger id could never be marked as sent: fail it up front
        // rather than publish it again on every run.
        const path = republishedPath(ctx.config, plan.gameDate, request.player);
        recordable.push({ ...request, path });
        messages.push(
          buildPredictionRequest(ctx.config, {
            gameDate: plan.gameDate,
            player: request.player,
            correlationId: plan.correlationId,
            batchId: plan.batchId,
            attempt: request.attempt,
          }),
        );
      } catch (error) {
        failures.push({ player: request.player, error: errorMessage(error) });
      }
    }

    const outcomes = await publishBatch(bus, topic, messages);
    const sent = recordable.flatMap((request, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) return [{ ...request, messageId: outcome.messageId }];
      failures.push({ player: request.player, error: outcome.error });
      return [];
    });

    // The ledger for this batch is written before the next batch is published: this ordering
    // is what bounds duplicates after a crash to the one batch in flight.
    for (let from = 0; from < sent.length; from += LEDGER_WRITES_PER_COMMIT) {
      const entries = sent.slice(from, from + LEDGER_WRITES_PER_COMMIT);
      await documents.transaction(async (tx) => {
        for (const entry of entries) {
          tx.set(entry.path, {
            idempotency_key: predictionRequestKey({
              gameDate: plan.gameDate,
              player: entry.player,
              correlationId: plan.correlationId,
            }),
            message_id: entry.messageId,
            published_at: ServerTimestamp,
            attempt: entry.attempt,
            batch_id: plan.batchId,
            correlation_id: plan.correlationId,
            by: ctx.actor,
          });
        }
      });
    }

    done += chunk.length;
    result.published += sent.length;
    result.failed += failures.length;
    for (const failure of failures) {
      if (result.failures.length < FAILURES_KEPT) result.failures.push(failure);
    }
    options.onBatch?.({ batch, published: sent.length, failed: failures, done, total });
  }
  return result;
}

async function publishBatch(
  bus: LibContext['backends']['bus'],
  topic: string,
  messages: Parameters<LibContext['backends']['bus']['publish']>[1],
) {
  if (messages.length === 0) return [];
  try {
    return await bus.publish(topic, messages);
  } catch (error) {
    // A publish call that throws outright failed for every message in it.
    const reason = errorMessage(error);
    return messages.map(() => ({ ok: false as const, error: reason }));
  }
}

async function keepLeases(
  ctx: LibContext,
  gameDate: GameDate,
  leases: RepublishLeases,
): Promise<void> {
  const own = await renewLease(ctx, gameDate, leases.holder, undefined, { kind: 'republish' });
  const coordinator = leases.holdsCoordinatorLease
    ? await renewLease(ctx, gameDate, leases.holder)
    : { renewed: true };
  if (!own.renewed || !coordinator.renewed) {
    throw new OperationFailed(`The republish lease for ${gameDate} was lost mid-run`, {
      hint:
        'Another process took it after it expired. Check `pipectl coordinator lock`, then run ' +
        'republish again; it requests only what is left.',
    });
  }
}

async function waitForRate(started: number, sent: number, perSecond: number): Promise<void> {
  const due = started + (sent / perSecond) * 1000;
  const wait = due - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}

/** `--rate 50/s` or `--rate 50`. */
export function parseRate(input: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*s)?\s*$/.exec(input);
  const value = match ? Number(match[1]) : NaN;
  if (!Number.isFinite(value) || value <= 0 || value > 100_000) {
    throw new UserError(`--rate "${input}" is not valid`, {
      hint: 'Give messages per second as N/s or N, for example --rate 50/s (at most 100000).',
    });
  }
  return value;
}
