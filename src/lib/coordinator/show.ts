/** Everything `coordinator show` reports about one date, read in one place. */

import { param } from '../backends/ports.js';
import type { LibContext } from '../context.js';
import type { GameDate } from '../dates.js';
import { readBatch, type BatchState } from './batch.js';
import { readLease, type Lease } from './lease.js';

export interface CoordinatorView {
  batch: BatchState;
  lease: Lease | null;
  republishLease: Lease | null;
  /** Distinct players with a prediction row for the date; null when the table is missing. */
  predictionsWritten: number | null;
  serverTime: Date;
  /** Server time minus the batch's `updated_at`. */
  updatedSecondsAgo: number | null;
  /** A running batch that has not moved for longer than `coordinator.staleAfterMinutes`. */
  stale: boolean;
}

export async function describeCoordinator(
  ctx: LibContext,
  gameDate: GameDate,
): Promise<CoordinatorView> {
  const [batch, lease, republishLease, predictionsWritten, serverTime] = await Promise.all([
    readBatch(ctx, gameDate),
    readLease(ctx, gameDate),
    readLease(ctx, gameDate, { kind: 'republish' }),
    countPredictions(ctx, gameDate),
    ctx.backends.documents.serverTime(),
  ]);
  const updatedSecondsAgo =
    batch.updatedAt === null
      ? null
      : Math.max(0, Math.round((serverTime.getTime() - batch.updatedAt.getTime()) / 1000));
  const stale =
    batch.status === 'running' &&
    updatedSecondsAgo !== null &&
    updatedSecondsAgo > ctx.config.coordinator.staleAfterMinutes * 60;
  return { batch, lease, republishLease, predictionsWritten, serverTime, updatedSecondsAgo, stale };
}

export async function countPredictions(
  ctx: LibContext,
  gameDate: GameDate,
): Promise<number | null> {
  try {
    const [row] = await ctx.backends.warehouse.query<{ players: number }>(
      `SELECT COUNT(DISTINCT player_lookup) AS players FROM \`${ctx.config.tables.predictions}\`
       WHERE game_date = @game_date`,
      { game_date: param.date(gameDate) },
      { timeoutMs: ctx.config.profile.timeoutMs },
    );
    return row?.players ?? 0;
  } catch (error) {
    // A warehouse that never received a prediction has no table yet: that is zero, not an error.
    if (/does not exist|not found/i.test((error as Error).message)) return null;
    throw error;
  }
}
