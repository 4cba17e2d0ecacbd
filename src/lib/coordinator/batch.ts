/**
 * The coordinator's batch state: `predictions/{game_date}` = `{batch_id, correlation_id, status,
 * expected, completed, started_at, updated_at, instance}`. The state is what lets a restarted
 * coordinator (or an operator) know how far a batch got; every change to it is one transaction
 * so that concurrent workers, a second coordinator and the backup scheduler cannot corrupt it.
 */

import { randomUUID } from 'node:crypto';

import { ServerTimestamp, type DocData } from '../backends/ports.js';
import type { LibContext } from '../context.js';
import type { GameDate } from '../dates.js';
import { UserError } from '../errors.js';
import { batchPath, completedPath, leasePath } from './paths.js';
import { date, num, str } from './values.js';

export type BatchStatus = 'running' | 'complete' | 'failed';
const STATUSES: readonly string[] = ['running', 'complete', 'failed'];

export interface BatchState {
  gameDate: GameDate;
  exists: boolean;
  batchId: string | null;
  correlationId: string | null;
  status: BatchStatus | null;
  expected: number;
  completed: number;
  startedAt: Date | null;
  updatedAt: Date | null;
  instance: string | null;
}

export async function readBatch(ctx: LibContext, gameDate: GameDate): Promise<BatchState> {
  const snapshot = await ctx.backends.documents.get(batchPath(ctx.config, gameDate));
  return parseBatch(gameDate, snapshot.exists ? snapshot.data! : undefined);
}

export type StartDecision =
  { started: true; batchId: string } | { started: false; reason: string; batchId: string | null };

export interface StartArgs {
  players: string[];
  correlationId: string;
  /** The coordinator instance starting the batch; also its lease holder id, if it has one. */
  instance: string;
  /** Start again over a batch that already completed (a deliberate re-run). */
  rerun?: boolean;
}

/**
 * The execution guard for `/start`: a date whose batch is running is skipped with a reason,
 * not run twice. One transaction reads the batch state and the coordinator lease, so the
 * event-driven start and the 06:00 backup start racing each other produce exactly one batch.
 * A live lease held by anyone but `instance` (a republish in progress, another coordinator)
 * also skips the start.
 */
export async function startBatch(
  ctx: LibContext,
  gameDate: GameDate,
  args: StartArgs,
): Promise<StartDecision> {
  const { documents } = ctx.backends;
  const expected = new Set(args.players).size;
  const path = batchPath(ctx.config, gameDate);
  const lockPath = leasePath(ctx.config, gameDate, 'coordinator');

  return documents.transaction(async (tx): Promise<StartDecision> => {
    const current = await tx.get(path);
    const lock = await tx.get(lockPath);
    const state = parseBatch(gameDate, current.exists ? current.data! : undefined);

    if (lock.exists) {
      const holder = str(lock.data!.holder);
      const expiresAt = date(lock.data!.expires_at);
      const now = await documents.serverTime();
      if (holder !== args.instance && expiresAt !== null && expiresAt > now) {
        return {
          started: false,
          batchId: state.batchId,
          reason: `the coordinator lease for ${gameDate} is held by ${holder ?? 'an unknown holder'} until ${expiresAt.toISOString()}`,
        };
      }
    }
    if (state.status === 'running') {
      return {
        started: false,
        batchId: state.batchId,
        reason: `batch ${state.batchId ?? '(no id)'} for ${gameDate} is running (${state.completed} of ${state.expected} predicted, started by ${state.instance ?? 'an unknown instance'})`,
      };
    }
    if (state.status === 'complete' && args.rerun !== true) {
      return {
        started: false,
        batchId: state.batchId,
        reason: `batch ${state.batchId ?? '(no id)'} for ${gameDate} is already complete`,
      };
    }

    const batchId = newBatchId(gameDate);
    tx.set(path, {
      batch_id: batchId,
      correlation_id: args.correlationId,
      status: expected === 0 ? 'complete' : 'running',
      expected,
      completed: 0,
      started_at: ServerTimestamp,
      updated_at: ServerTimestamp,
      instance: args.instance,
    });
    return { started: true, batchId };
  });
}

export interface RecordOutcome {
  counted: boolean;
  completed: number;
  expected: number;
  complete: boolean;
}

/**
 * Counts one player's completion, transactionally and idempotently per player: the marker
 * `predictions/{date}/completed/{player}` is written in the same transaction as the counter, so
 * a redelivered `prediction-complete` (Pub/Sub delivers at least once) finds the marker and
 * does not count again. Markers carry the batch id, so a new batch for the date counts afresh.
 * The batch is marked complete when completed reaches expected.
 */
export async function recordPrediction(
  ctx: LibContext,
  gameDate: GameDate,
  player: string,
): Promise<RecordOutcome> {
  const { documents } = ctx.backends;
  const path = batchPath(ctx.config, gameDate);
  const markerPath = completedPath(ctx.config, gameDate, checkPlayer(player));

  return documents.transaction(async (tx): Promise<RecordOutcome> => {
    const current = await tx.get(path);
    const marker = await tx.get(markerPath);
    const state = parseBatch(gameDate, current.exists ? current.data! : undefined);
    const unchanged = {
      counted: false,
      completed: state.completed,
      expected: state.expected,
      complete: state.status === 'complete',
    };
    if (!state.exists || state.batchId === null) return unchanged;
    if (marker.exists && str(marker.data!.batch_id) === state.batchId) return unchanged;

    const completed = state.completed + 1;
    const complete = state.status === 'complete' || completed >= state.expected;
    tx.set(markerPath, { batch_id: state.batchId, completed_at: ServerTimestamp });
    tx.update(path, {
      completed,
      updated_at: ServerTimestamp,
      ...(complete && state.status !== 'failed' ? { status: 'complete' } : {}),
    });
    return { counted: true, completed, expected: state.expected, complete };
  });
}

export function parseBatch(gameDate: GameDate, data: DocData | undefined): BatchState {
  if (data === undefined) {
    return {
      gameDate,
      exists: false,
      batchId: null,
      correlationId: null,
      status: null,
      expected: 0,
      completed: 0,
      startedAt: null,
      updatedAt: null,
      instance: null,
    };
  }
  const status = str(data.status);
  return {
    gameDate,
    exists: true,
    batchId: str(data.batch_id),
    correlationId: str(data.correlation_id),
    status: status !== null && STATUSES.includes(status) ? (status as BatchStatus) : null,
    expected: num(data.expected),
    completed: num(data.completed),
    startedAt: date(data.started_at),
    updatedAt: date(data.updated_at),
    instance: str(data.instance),
  };
}

export function newBatchId(gameDate: GameDate): string {
  return `batch-${gameDate}-${randomUUID().slice(0, 8)}`;
}

/** Any text is a valid player name except what cannot be a document id (checked by docPath). */
function checkPlayer(player: string): string {
  if (typeof player !== 'string' || player.length === 0) {
    throw new UserError('A player name is empty', { hint: 'Give the player_lookup value.' });
  }
  return player;
}
