/**
 * Is the data a phase reads already there? For phase N the upstream is the output tables of
 * the phase N-1 processors (from the configuration). Each table must hold rows for the game
 * date, and those rows must be fresh: the newest was written no earlier than the start of the
 * day before the game date (in the pipeline's zone). Rows older than that were written for
 * another run (a snapshot taken days ahead) and would feed stale inputs downstream.
 *
 * The whole check runs under one deadline. A timeout takes the pipeline's one answer for
 * "did not hear back" (see deadline.ts): the upstream is treated as NOT ready.
 */

import { DateTime } from 'luxon';
import pLimit from 'p-limit';

import { param } from '../backends/ports.js';
import { processorsFor } from '../config.js';
import type { LibContext } from '../context.js';
import { addDays, type GameDate } from '../dates.js';
import type { RunnablePhase } from '../pipeline.js';
import { checkDone } from './deadline.js';
import { isMissingTable, tableRef } from './sql.js';

export type TableState = 'ok' | 'empty' | 'stale';

export interface UpstreamTable {
  processor: string;
  table: string;
  rows: number;
  newest: Date | null;
  state: TableState;
}

export interface UpstreamCheck {
  phase: RunnablePhase;
  gameDate: GameDate;
  /** False when a table is empty or stale, or the check timed out. */
  ready: boolean;
  timedOut: boolean;
  /** Rows written before this moment are stale for the game date. */
  freshSince: Date;
  /** Empty when the phase reads nothing from the warehouse (phase 2 reads scraper files). */
  tables: UpstreamTable[];
}

export const DEFAULT_UPSTREAM_DEADLINE_MS = 20_000;

/** At most this many table queries at once: BigQuery slots and DuckDB's one writer. */
const CONCURRENCY = 4;

export async function checkUpstream(
  ctx: LibContext,
  phase: RunnablePhase,
  gameDate: GameDate,
  options: { deadlineMs?: number } = {},
): Promise<UpstreamCheck> {
  const freshSince = DateTime.fromISO(addDays(gameDate, -1), {
    zone: ctx.config.timezone,
  }).toJSDate();
  const base = { phase, gameDate, freshSince };
  if (phase === 2) return { ...base, ready: true, timedOut: false, tables: [] };

  const processors = processorsFor(ctx.config, (phase - 1) as 2 | 3 | 4);
  const tables: UpstreamTable[] = [];
  const answer = await checkDone(ctx, {
    what: `upstream data for phase ${phase} on ${gameDate}`,
    deadlineMs: options.deadlineMs ?? DEFAULT_UPSTREAM_DEADLINE_MS,
    check: async (signal) => {
      const limit = pLimit(CONCURRENCY);
      const results = await Promise.all(
        processors.map((p) =>
          limit(async () => {
            signal.throwIfAborted();
            const found = await readTable(ctx, p.table, gameDate);
            return { processor: p.name, table: p.table, ...found, state: judge(found, freshSince) };
          }),
        ),
      );
      tables.push(...results);
      return results.every((t) => t.state === 'ok');
    },
  });
  return { ...base, ready: answer.done, timedOut: answer.timedOut, tables };
}

function judge(found: { rows: number; newest: Date | null }, freshSince: Date): TableState {
  if (found.rows === 0) return 'empty';
  if (found.newest !== null && found.newest < freshSince) return 'stale';
  return 'ok';
}

async function readTable(
  ctx: LibContext,
  table: string,
  gameDate: GameDate,
): Promise<{ rows: number; newest: Date | null }> {
  // The feature store stamps rows with created_at; every processor output table with processed_at.
  const stamp = table === ctx.config.tables.featureStore ? 'created_at' : 'processed_at';
  try {
    const [row] = await ctx.backends.warehouse.query<{ n: number; newest: Date | null }>(
      `SELECT COUNT(*) AS n, MAX(${stamp}) AS newest FROM ${tableRef(table)} WHERE game_date = @game_date`,
      { game_date: param.date(gameDate) },
    );
    return { rows: Number(row?.n ?? 0), newest: row?.newest ?? null };
  } catch (error) {
    if (isMissingTable(error)) return { rows: 0, newest: null };
    throw error;
  }
}

/** One line per problem table, for refusal messages. */
export function describeUpstream(check: UpstreamCheck): string[] {
  if (check.timedOut) return ['the check did not finish before its deadline'];
  const empty = check.tables.filter((t) => t.state === 'empty');
  if (empty.length === check.tables.length && empty.length > 1) {
    return [
      `none of the ${empty.length} phase ${check.phase - 1} tables has rows for ${check.gameDate}`,
    ];
  }
  return check.tables
    .filter((t) => t.state !== 'ok')
    .map((t) =>
      t.state === 'empty'
        ? `${t.table} (${t.processor}) has no rows for ${check.gameDate}`
        : `${t.table} (${t.processor}) was last written ${t.newest!.toISOString()}, before ${check.freshSince.toISOString()}`,
    );
}
