/**
 * The few batched reads every health check draws on. Each is loaded at most once per run and
 * shared, so nine checks cost about five warehouse queries: predictions with coverage, a
 * one-row sample of the feature store (its columns), null counts for every critical feature
 * column, the date's run history, and one UNION ALL over every output table that a
 * successful run claims to have written.
 */

import { param, type Backends, type Row } from '../backends/ports.js';
import { readRuns, type RunRecord } from '../changes.js';
import { readGate, type GateView } from '../completion.js';
import type { ResolvedConfig } from '../config.js';
import type { LibContext } from '../context.js';
import { readBatch, readLease, type BatchState, type Lease } from '../coordinator/index.js';
import type { GameDate } from '../dates.js';
import { UserError, Unavailable } from '../errors.js';
import { GATED_PHASES, type ProcessorDef } from '../pipeline.js';
import { CountingWarehouse, GuardedDocuments, withStores } from './counting.js';

export interface PredictionStats {
  predictions: number;
  nullCount: number;
  nanCount: number;
  /** Mean of the finite predictions; null when there are none. */
  mean: number | null;
  /** Production-ready players in the feature store for the date. */
  ready: number;
  /** Of those, players with at least one prediction row. */
  covered: number;
}

export interface FeatureNulls {
  rows: number;
  /** Configured critical columns that the feature store does not have. */
  missingColumns: string[];
  nulls: { column: string; nulls: number }[];
}

export interface OutputCount {
  table: string;
  rows: number | null;
  /** Why the table could not be counted (missing table, failed query). */
  error: string | null;
}

export class HealthData {
  readonly warehouse: CountingWarehouse;
  readonly documents: GuardedDocuments;
  private readonly memo = new Map<string, Promise<unknown>>();

  constructor(
    readonly config: ResolvedConfig,
    private readonly backends: Backends,
    warehouse: CountingWarehouse,
    documents: GuardedDocuments,
    readonly date: GameDate,
    /** Given by --as-of; otherwise checks use the clock (runs) or server time (leases). */
    readonly asOf: Date | undefined,
  ) {
    this.warehouse = warehouse;
    this.documents = documents;
  }

  /** The moment the checks judge ages against: --as-of, else server time, else this clock. */
  now(): Promise<Date> {
    return this.once('now', async () => {
      if (this.asOf) return this.asOf;
      try {
        return await this.documents.serverTime();
      } catch (error) {
        if (error instanceof Unavailable) return new Date();
        throw error;
      }
    });
  }

  predictionStats(): Promise<PredictionStats> {
    return this.once('predictions', async () => {
      const { predictions, featureStore } = this.config.tables;
      const [row] = await this.warehouse.query(
        `WITH p AS (
           SELECT player_lookup, predicted_points FROM \`${predictions}\` WHERE game_date = @game_date
         ), f AS (
           SELECT DISTINCT player_lookup FROM \`${featureStore}\`
           WHERE game_date = @game_date AND is_production_ready
         )
         SELECT
           (SELECT COUNT(*) FROM p) AS predictions,
           (SELECT COUNTIF(predicted_points IS NULL) FROM p) AS null_count,
           (SELECT COUNTIF(IS_NAN(predicted_points)) FROM p) AS nan_count,
           (SELECT AVG(predicted_points) FROM p WHERE NOT IS_NAN(predicted_points)) AS mean,
           (SELECT COUNT(*) FROM f) AS ready,
           (SELECT COUNT(*) FROM f WHERE player_lookup IN (SELECT player_lookup FROM p)) AS covered`,
        { game_date: param.date(this.date) },
      );
      return {
        predictions: num(row?.predictions),
        nullCount: num(row?.null_count),
        nanCount: num(row?.nan_count),
        mean: row?.mean === null || row?.mean === undefined ? null : Number(row.mean),
        ready: num(row?.ready),
        covered: num(row?.covered),
      };
    });
  }

  featureNulls(): Promise<FeatureNulls> {
    return this.once('features', async () => {
      const table = this.config.tables.featureStore;
      const wanted = this.config.health.criticalFeatures;
      for (const column of wanted) assertIdentifier(column);

      // Column names cannot be query parameters, so they are checked twice before they are
      // quoted into the SQL: by shape (above and in the config schema) and against the
      // columns the table really has (this one-row sample).
      const sample = await this.warehouse.query(
        `SELECT * FROM \`${table}\` WHERE game_date = @game_date LIMIT 1`,
        { game_date: param.date(this.date) },
      );
      if (sample.length === 0) return { rows: 0, missingColumns: [], nulls: [] };
      const present = new Set(Object.keys(sample[0]!));
      const columns = wanted.filter((c) => present.has(c));
      const missingColumns = wanted.filter((c) => !present.has(c));
      if (columns.length === 0) return { rows: 0, missingColumns, nulls: [] };

      const counts = columns.map((c, i) => `COUNTIF(\`${c}\` IS NULL) AS null_${i}`).join(',\n ');
      const [row] = await this.warehouse.query(
        `SELECT COUNT(*) AS total_rows,\n ${counts}\nFROM \`${table}\` WHERE game_date = @game_date`,
        { game_date: param.date(this.date) },
      );
      return {
        rows: num(row?.total_rows),
        missingColumns,
        nulls: columns.map((column, i) => ({ column, nulls: num(row?.[`null_${i}`]) })),
      };
    });
  }

  runs(): Promise<{ runs: RunRecord[]; truncated: boolean }> {
    return this.once('runs', () => readRuns(this.warehouse, this.config, this.date, this.asOf));
  }

  /**
   * Row counts for the date in the output table of every processor that has a successful
   * run, in one UNION ALL. When that query fails (most often: a table does not exist), each
   * table is counted on its own so the report can name the one at fault.
   */
  outputCounts(): Promise<OutputCount[]> {
    return this.once('outputs', async () => {
      const { runs } = await this.runs();
      const succeeded = new Set(runs.filter((r) => r.status === 'success').map((r) => r.processor));
      const tables = [
        ...new Set(
          allProcessors(this.config)
            .filter((p) => succeeded.has(p.name))
            .map((p) => p.table),
        ),
      ];
      if (tables.length === 0) return [];

      const params = { game_date: param.date(this.date) };
      const parts = tables.map(
        (table, i) =>
          `SELECT ${i} AS table_index, COUNT(*) AS row_count FROM \`${table}\` WHERE game_date = @game_date`,
      );
      try {
        const rows = await this.warehouse.query(parts.join('\nUNION ALL\n'), params);
        const byIndex = new Map(rows.map((r: Row) => [num(r.table_index), num(r.row_count)]));
        return tables.map((table, i) => ({ table, rows: byIndex.get(i) ?? 0, error: null }));
      } catch (error) {
        if (error instanceof Unavailable) throw error;
      }
      const counts: OutputCount[] = [];
      for (const [i, table] of tables.entries()) {
        try {
          const [row] = await this.warehouse.query(parts[i]!, params);
          counts.push({ table, rows: num(row?.row_count), error: null });
        } catch (error) {
          if (error instanceof Unavailable) throw error;
          counts.push({ table, rows: null, error: (error as Error).message });
        }
      }
      return counts;
    });
  }

  gates(): Promise<GateView[]> {
    return this.once('gates', () =>
      Promise.all(GATED_PHASES.map((phase) => readGate(this.lib(), phase, this.date))),
    );
  }

  lease(): Promise<{ lease: Lease | null; batch: BatchState }> {
    return this.once('lease', async () => ({
      lease: await readLease(this.lib(), this.date),
      batch: await readBatch(this.lib(), this.date),
    }));
  }

  /** The orchestrator's and coordinator's readers take a LibContext; give them the guarded store. */
  private lib(): LibContext {
    return {
      config: this.config,
      actor: 'pipectl-health',
      backends: withStores(this.backends, this.warehouse, this.documents),
    };
  }

  private once<T>(key: string, load: () => Promise<T>): Promise<T> {
    let promise = this.memo.get(key) as Promise<T> | undefined;
    if (!promise) {
      promise = load();
      this.memo.set(key, promise);
    }
    return promise;
  }
}

export function allProcessors(config: Pick<ResolvedConfig, 'processors'>): ProcessorDef[] {
  return [...config.processors.phase2, ...config.processors.phase3, ...config.processors.phase4];
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function assertIdentifier(column: string): void {
  if (!IDENTIFIER.test(column)) {
    throw new UserError(`health.criticalFeatures has "${column}", which is not a column name`, {
      hint: 'Use column names made of letters, digits and "_", starting with a letter or "_".',
    });
  }
}

function num(value: unknown): number {
  if (value === null || value === undefined) return 0;
  return Number(value);
}
