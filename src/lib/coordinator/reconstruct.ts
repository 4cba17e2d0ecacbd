/**
 * Reconstruction: which players a batch expects (production-ready feature rows), which have a
 * prediction, and which are missing, from ONE warehouse query. The warehouse is the truth
 * here: the batch document may be lost or stale after a coordinator restart, the rows are not.
 */

import { ServerTimestamp, param, type Row } from '../backends/ports.js';
import type { LibContext } from '../context.js';
import type { GameDate } from '../dates.js';
import { correlationId as newCorrelationId } from '../ids.js';
import { newBatchId, readBatch, type BatchState } from './batch.js';
import { batchPath, completedPath } from './paths.js';

export interface Reconstruction {
  gameDate: GameDate;
  /** Predictions counted only from this moment on (the batch's start), or all of the day's. */
  since: Date | null;
  expected: number;
  completed: number;
  /** Expected players without a prediction, sorted. */
  missing: string[];
  /** Expected players with a prediction, sorted; only with `withPredicted` (for rebuilding). */
  predicted: string[];
  /** The batch and correlation id of the day's latest prediction row, if any. */
  latestBatchId: string | null;
  latestCorrelationId: string | null;
}

interface ReconstructRow extends Row {
  expected: number;
  missing: string[] | null;
  predicted: string[] | null;
  latest_batch_id: string | null;
  latest_correlation_id: string | null;
}

/**
 * One row whatever the size of the day: the missing players come back as one array, not one
 * row each, which keeps a 50,000-player answer to a single small JSON value rather than
 * 50,000 row objects. The predicted list is filled only when asked for (`@with_predicted`).
 * Table names come from validated configuration (`dataset.table`, identifiers only); every
 * value is a named parameter.
 */
function reconstructSql(featureStore: string, predictions: string | null): string {
  const predicted =
    predictions === null
      ? 'SELECT CAST(NULL AS STRING) AS player_lookup FROM expected WHERE FALSE'
      : `SELECT DISTINCT player_lookup
  FROM \`${predictions}\`
  WHERE game_date = @game_date AND (@since IS NULL OR created_at >= @since)`;
  const latest =
    predictions === null
      ? 'SELECT CAST(NULL AS STRING) AS batch_id, CAST(NULL AS STRING) AS correlation_id'
      : `SELECT batch_id, correlation_id
  FROM \`${predictions}\`
  WHERE game_date = @game_date
  ORDER BY created_at DESC
  LIMIT 1`;
  return `
WITH expected AS (
  SELECT DISTINCT player_lookup
  FROM \`${featureStore}\`
  WHERE game_date = @game_date AND is_production_ready = TRUE
),
predicted AS (
  ${predicted}
),
joined AS (
  SELECT e.player_lookup AS player_lookup, p.player_lookup IS NOT NULL AS is_predicted
  FROM expected e
  LEFT JOIN predicted p ON p.player_lookup = e.player_lookup
),
latest AS (
  ${latest}
)
SELECT
  (SELECT COUNT(*) FROM joined) AS expected,
  ARRAY(SELECT player_lookup FROM joined WHERE NOT is_predicted ORDER BY player_lookup) AS missing,
  ARRAY(
    SELECT player_lookup FROM joined WHERE is_predicted AND @with_predicted ORDER BY player_lookup
  ) AS predicted,
  (SELECT batch_id FROM latest) AS latest_batch_id,
  (SELECT correlation_id FROM latest) AS latest_correlation_id`;
}

export function isMissingTable(error: unknown, table: string): boolean {
  const message = error instanceof Error ? error.message : String(error);
  const name = table.split('.').pop()!;
  return /does not exist|not found/i.test(message) && message.includes(name);
}

export async function reconstruct(
  ctx: LibContext,
  gameDate: GameDate,
  options: { since?: Date | null; withPredicted?: boolean } = {},
): Promise<Reconstruction> {
  const { featureStore, predictions } = ctx.config.tables;
  const { warehouse } = ctx.backends;
  const since = options.since ?? null;
  const params = {
    game_date: param.date(gameDate),
    since: param.timestamp(since),
    with_predicted: param.bool(options.withPredicted === true),
  };
  const queryOptions = { timeoutMs: ctx.config.profile.timeoutMs };
  let rows: ReconstructRow[];
  try {
    rows = await warehouse.query<ReconstructRow>(
      reconstructSql(featureStore, predictions),
      params,
      queryOptions,
    );
  } catch (error) {
    // A coordinator that crashed before any worker wrote has no predictions table yet: every
    // expected player is missing. Any other failure (the feature store missing) is reported.
    if (!isMissingTable(error, predictions)) throw error;
    rows = await warehouse.query<ReconstructRow>(
      reconstructSql(featureStore, null),
      { game_date: params.game_date, with_predicted: params.with_predicted },
      queryOptions,
    );
  }
  const row = rows[0];
  const missing = row?.missing ?? [];
  const expected = Number(row?.expected ?? 0);
  return {
    gameDate,
    since,
    expected,
    completed: expected - missing.length,
    missing,
    predicted: row?.predicted ?? [],
    latestBatchId: row?.latest_batch_id ?? null,
    latestCorrelationId: row?.latest_correlation_id ?? null,
  };
}

export interface RebuildResult {
  before: BatchState;
  after: BatchState;
  markersWritten: number;
}

/** Firestore allows 500 writes per commit; stay well below. */
const MARKERS_PER_COMMIT = 400;

/**
 * Rewrites the batch document from a reconstruction: counts from the warehouse, status
 * `complete` when nothing is missing and `running` otherwise, ids kept when the document has
 * them (else taken from the latest prediction rows, else new). Completion markers are written
 * for every predicted player first, so a late or redelivered report for one of them is not
 * counted a second time on top of the rebuilt count.
 */
export async function rebuildBatch(
  ctx: LibContext,
  gameDate: GameDate,
  found: Reconstruction,
): Promise<RebuildResult> {
  const { documents } = ctx.backends;
  const before = await readBatch(ctx, gameDate);
  const batchId = before.batchId ?? found.latestBatchId ?? newBatchId(gameDate);
  const correlation = before.correlationId ?? found.latestCorrelationId ?? newCorrelationId();

  for (let i = 0; i < found.predicted.length; i += MARKERS_PER_COMMIT) {
    const chunk = found.predicted.slice(i, i + MARKERS_PER_COMMIT);
    await documents.transaction(async (tx) => {
      for (const player of chunk) {
        tx.set(completedPath(ctx.config, gameDate, player), {
          batch_id: batchId,
          completed_at: ServerTimestamp,
          reconstructed: true,
        });
      }
    });
  }

  const path = batchPath(ctx.config, gameDate);
  await documents.transaction(async (tx) => {
    const current = await tx.get(path);
    tx.set(path, {
      batch_id: batchId,
      correlation_id: correlation,
      status: found.missing.length === 0 ? 'complete' : 'running',
      expected: found.expected,
      completed: found.completed,
      started_at: current.exists ? (current.data!.started_at ?? ServerTimestamp) : ServerTimestamp,
      updated_at: ServerTimestamp,
      instance: current.exists ? (current.data!.instance ?? null) : `reconstructed-by:${ctx.actor}`,
      reconstructed_at: ServerTimestamp,
    });
  });
  return { before, after: await readBatch(ctx, gameDate), markersWritten: found.predicted.length };
}
