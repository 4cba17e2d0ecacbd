/**
 * Change detection, seen from the outside. Processors hash each output row and report how many
 * entities changed; when the hash is broken every re-run reports zero changes and yesterday's
 * predictions are served without any error. `inspectChanges` shows what each processor
 * reported for a date; `verifyHash` recomputes stored hashes to prove or clear the hash itself.
 */

import { param, type Row, type Warehouse } from './backends/ports.js';
import type { ResolvedConfig } from './config.js';
import type { GameDate } from './dates.js';
import { UserError } from './errors.js';
import { DEFAULT_EXCLUDED_FIELDS, rowHash } from './hashing.js';

/** One row of `processor_run_history`, as the checks read it. */
export interface RunRecord {
  processor: string;
  phase: string;
  runId: string | null;
  correlationId: string | null;
  status: string;
  processedAt: Date | null;
  entitiesProcessed: number | null;
  entitiesChanged: number | null;
  fullBatch: boolean | null;
  triggerMessageId: string | null;
}

// Limitation: one date's runs come back row by row (a few hundred on a busy day) and are
// aggregated here, so the SQL stays portable between BigQuery and DuckDB; the cap keeps a
// runaway retry loop from flooding memory, and the caller is told when it was reached.
export const RUN_HISTORY_ROW_CAP = 20_000;

/** Every run for `date`, oldest first; with `asOf`, only runs that had finished by then. */
export async function readRuns(
  warehouse: Warehouse,
  config: Pick<ResolvedConfig, 'tables'>,
  date: GameDate,
  asOf?: Date,
): Promise<{ runs: RunRecord[]; truncated: boolean }> {
  const rows = await warehouse.query(
    `SELECT processor_name, phase, run_id, correlation_id, status, processed_at,
            entities_processed, entities_changed, is_full_batch, trigger_message_id
     FROM \`${config.tables.runHistory}\`
     WHERE data_date = @game_date
       AND (@as_of IS NULL OR processed_at IS NULL OR processed_at <= @as_of)
     ORDER BY processed_at, processor_name
     LIMIT @cap`,
    {
      game_date: param.date(date),
      as_of: param.timestamp(asOf ?? null),
      cap: param.int(RUN_HISTORY_ROW_CAP),
    },
  );
  return { runs: rows.map(toRunRecord), truncated: rows.length >= RUN_HISTORY_ROW_CAP };
}

function toRunRecord(row: Row): RunRecord {
  return {
    processor: String(row.processor_name),
    phase: String(row.phase),
    runId: stringOrNull(row.run_id),
    correlationId: stringOrNull(row.correlation_id),
    status: String(row.status),
    processedAt: row.processed_at instanceof Date ? row.processed_at : null,
    entitiesProcessed: numberOrNull(row.entities_processed),
    entitiesChanged: numberOrNull(row.entities_changed),
    fullBatch: typeof row.is_full_batch === 'boolean' ? row.is_full_batch : null,
    triggerMessageId: stringOrNull(row.trigger_message_id),
  };
}

// ---------------------------------------------------------------------------------------------
// changes inspect

export interface ProcessorChanges {
  processor: string;
  phase: string;
  /** Successful runs for the date. */
  runs: number;
  failed_runs: number;
  first_run_at: Date | null;
  last_run_at: Date | null;
  /** The latest successful run's numbers. */
  entities_processed: number | null;
  entities_changed: number | null;
  batch: 'full' | 'incremental' | 'unknown';
  /** Entities changed over every successful run of the day. */
  changed_today: number;
  /** Every successful run of the day reported zero changed entities. */
  zero_change: boolean;
}

export interface ChangesReport {
  game_date: GameDate;
  /** The date had at least one successful run: the pipeline treated it as a game day. */
  game_day: boolean;
  processors: ProcessorChanges[];
  zero_change_processors: number;
  truncated: boolean;
}

export async function inspectChanges(
  warehouse: Warehouse,
  config: Pick<ResolvedConfig, 'tables'>,
  date: GameDate,
): Promise<ChangesReport> {
  const { runs, truncated } = await readRuns(warehouse, config, date);
  const processors = summarizeProcessors(runs);
  const gameDay = processors.some((p) => p.runs > 0);
  return {
    game_date: date,
    game_day: gameDay,
    processors,
    zero_change_processors: processors.filter((p) => p.zero_change).length,
    truncated,
  };
}

/** Per processor, in phase order then name; runs must be oldest first. */
export function summarizeProcessors(runs: RunRecord[]): ProcessorChanges[] {
  const byProcessor = new Map<string, RunRecord[]>();
  for (const run of runs) {
    const key = `${run.phase}\u0000${run.processor}`;
    byProcessor.set(key, [...(byProcessor.get(key) ?? []), run]);
  }
  const out: ProcessorChanges[] = [];
  for (const list of byProcessor.values()) {
    const ok = list.filter((r) => r.status === 'success');
    const last = ok[ok.length - 1];
    out.push({
      processor: list[0]!.processor,
      phase: list[0]!.phase,
      runs: ok.length,
      failed_runs: list.filter((r) => r.status === 'failed').length,
      first_run_at: ok[0]?.processedAt ?? null,
      last_run_at: last?.processedAt ?? null,
      entities_processed: last?.entitiesProcessed ?? null,
      entities_changed: last?.entitiesChanged ?? null,
      batch:
        last?.fullBatch === true ? 'full' : last?.fullBatch === false ? 'incremental' : 'unknown',
      changed_today: ok.reduce((sum, r) => sum + (r.entitiesChanged ?? 0), 0),
      zero_change: ok.length > 0 && ok.every((r) => (r.entitiesChanged ?? 0) === 0),
    });
  }
  return out.sort(
    (a, b) => a.phase.localeCompare(b.phase) || a.processor.localeCompare(b.processor),
  );
}

// ---------------------------------------------------------------------------------------------
// changes verify-hash

export interface HashVerification {
  table: string;
  game_date: GameDate;
  /** Rows read (at most the sample size). */
  rows: number;
  sample: number;
  /** Rows whose stored data_hash differs from the recomputed one (or is missing). */
  mismatches: number;
  mismatch_examples: { entity: string | null; stored: string | null; recomputed: string }[];
  distinct_hashes: number;
  /** Distinct stored hashes per row read: close to 1 when healthy, 1/rows when collapsed. */
  distinct_ratio: number | null;
  /** Every row carries the same stored hash: change detection cannot see any change. */
  collapsed: boolean;
  excluded_fields: string[];
  ok: boolean;
}

/** Tables whose rows carry a data_hash: the processors' outputs and the feature store. */
export function hashedTables(config: Pick<ResolvedConfig, 'processors' | 'tables'>): string[] {
  const all = [
    ...config.processors.phase2,
    ...config.processors.phase3,
    ...config.processors.phase4,
  ].map((p) => p.table);
  return [...new Set([...all, config.tables.featureStore])];
}

/** Bad input (exit 2) unless `table` is one of hashedTables(config). */
export function assertHashedTable(
  config: Pick<ResolvedConfig, 'processors' | 'tables'>,
  table: string,
): void {
  const tables = hashedTables(config);
  if (tables.includes(table)) return;
  throw new UserError(`${table} is not a table whose rows carry a data_hash`, {
    hint: `Use a processor output table or the feature store, for example ${tables
      .slice(-3)
      .join(', ')} (pipectl config show lists them all).`,
  });
}

export async function verifyHash(
  warehouse: Warehouse,
  config: Pick<ResolvedConfig, 'processors' | 'tables'>,
  input: { table: string; date: GameDate; sample: number },
): Promise<HashVerification> {
  assertHashedTable(config, input.table);
  const entityColumn = entityColumnOf(config, input.table);

  // The table name is one of the configured names (validated as `dataset.table` when the
  // configuration was loaded), never text from the command line.
  const rows = await warehouse.query(
    `SELECT * FROM \`${input.table}\` WHERE game_date = @game_date LIMIT @sample`,
    { game_date: param.date(input.date), sample: param.int(input.sample) },
  );

  const stored = new Set<string>();
  const examples: HashVerification['mismatch_examples'] = [];
  let mismatches = 0;
  for (const row of rows) {
    const recomputed = rowHash(row, { exclude: DEFAULT_EXCLUDED_FIELDS });
    const hash = typeof row.data_hash === 'string' ? row.data_hash : null;
    if (hash !== null) stored.add(hash);
    if (hash !== recomputed) {
      mismatches += 1;
      if (examples.length < 5) {
        examples.push({ entity: stringOrNull(row[entityColumn]), stored: hash, recomputed });
      }
    }
  }

  const collapsed = rows.length > 1 && stored.size === 1;
  return {
    table: input.table,
    game_date: input.date,
    rows: rows.length,
    sample: input.sample,
    mismatches,
    mismatch_examples: examples,
    distinct_hashes: stored.size,
    distinct_ratio: rows.length === 0 ? null : stored.size / rows.length,
    collapsed,
    excluded_fields: [...DEFAULT_EXCLUDED_FIELDS],
    ok: mismatches === 0 && !collapsed,
  };
}

function entityColumnOf(config: Pick<ResolvedConfig, 'processors'>, table: string): string {
  const all = [
    ...config.processors.phase2,
    ...config.processors.phase3,
    ...config.processors.phase4,
  ];
  return all.find((p) => p.table === table)?.entityColumn ?? 'player_lookup';
}

function stringOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number'
    ? value
    : value === null || value === undefined
      ? null
      : Number(value);
}
