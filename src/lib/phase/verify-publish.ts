/**
 * Verify, then publish. A completion message announces rows; a consumer that acts on it
 * before those rows are committed reads nothing and reports success over an empty table.
 * So the announcement goes out only after the warehouse confirms at least the rows it claims,
 * and when it does not, nothing is published and the caller gets OperationFailed.
 */

import type { OutgoingMessage, Params } from '../backends/ports.js';
import { param } from '../backends/ports.js';
import type { LibContext } from '../context.js';
import type { GameDate } from '../dates.js';
import { OperationFailed, Unavailable } from '../errors.js';
import { columnRef, tableRef } from './sql.js';

export interface VerifiedPublish {
  /** `dataset.table` holding the announced rows. */
  table: string;
  gameDate: GameDate;
  /** Column holding the date (default `game_date`). */
  dateColumn?: string;
  /** Narrows the count to this run's rows, for example `{column: 'correlation_id', value}`. */
  match?: { column: string; value: string };
  /** Rows the message announces; fewer in the warehouse means nothing is published. */
  expected: number;
  topic: string;
  message: OutgoingMessage;
  timeoutMs?: number;
}

export interface VerifiedPublishResult {
  messageId: string;
  /** Rows the warehouse confirmed before publishing. */
  confirmed: number;
}

export async function verifyThenPublish(
  ctx: LibContext,
  request: VerifiedPublish,
): Promise<VerifiedPublishResult> {
  const confirmed = await countRows(ctx, request);
  if (confirmed < request.expected) {
    throw new OperationFailed(
      `${request.table} holds ${confirmed} of the ${request.expected} rows announced for ` +
        `${request.gameDate}; nothing was published to ${request.topic}`,
      { hint: 'The write has not committed (or lost rows): re-run the processor, then report.' },
    );
  }

  const [outcome] = await ctx.backends.bus.publish(request.topic, [request.message]);
  if (!outcome?.ok) {
    throw new Unavailable(
      `Publishing to ${request.topic} failed after the rows were confirmed: ${outcome?.error ?? 'no outcome'}`,
      { hint: 'The data is in place; publishing again is safe (the message carries its key).' },
    );
  }
  return { messageId: outcome.messageId, confirmed };
}

async function countRows(ctx: LibContext, request: VerifiedPublish): Promise<number> {
  const params: Params = { game_date: param.date(request.gameDate) };
  let sql =
    `SELECT COUNT(*) AS n FROM ${tableRef(request.table)} ` +
    `WHERE ${columnRef(request.dateColumn ?? 'game_date')} = @game_date`;
  if (request.match) {
    sql += ` AND ${columnRef(request.match.column)} = @match`;
    params.match = request.match.value;
  }
  const rows = await ctx.backends.warehouse.query<{ n: number }>(
    sql,
    params,
    request.timeoutMs === undefined ? {} : { timeoutMs: request.timeoutMs },
  );
  return Number(rows[0]?.n ?? 0);
}
