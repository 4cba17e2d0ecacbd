/**
 * What the simulated processors, coordinator and workers write: output rows with their
 * `data_hash`, feature rows, predictions and run history rows. `init` (writing a whole game
 * day at once) and `drain` (reacting to one message) both build rows here, so a drill that
 * re-runs a phase produces exactly the rows a scenario starts from.
 */

import type { ColumnDef, Row } from '../backends/ports.js';
import type { ResolvedConfig } from '../config.js';
import { rowHash } from '../hashing.js';
import type { GatedPhase, ProcessorDef } from '../pipeline.js';
import {
  FEATURE_STORE_COLUMNS,
  PREDICTION_COLUMNS,
  RUN_HISTORY_COLUMNS,
  processorOutputColumns,
} from '../schema.js';
import { stream } from './random.js';
import { TEAMS, type Player } from './roster.js';

/** The hash a broken hasher produces: it hashed none of the row's fields. */
export const BROKEN_HASH = rowHash({});

export interface TableRows {
  table: string;
  columns: ColumnDef[];
  rows: Row[];
}

export interface OutputOptions {
  seed: number;
  gameDate: string;
  processedAt: Date;
  /** Every row gets the same hash (the zero-changes failure). */
  brokenHash?: boolean;
  /** The processor runs and writes nothing (the empty-output failure). */
  empty?: boolean;
  /** Feature rows with NULL critical features, as a share of players (0..1). */
  nullFeatureShare?: number;
}

export function isTeamEntity(processor: ProcessorDef): boolean {
  return processor.entityColumn.toLowerCase().includes('team');
}

/** Ids of the entities a processor writes one row for: teams or players. */
export function entitiesOf(processor: ProcessorDef, roster: Player[]): string[] {
  return isTeamEntity(processor) ? [...TEAMS] : roster.map((p) => p.lookup);
}

export function isFeatureStore(config: ResolvedConfig, processor: ProcessorDef): boolean {
  return processor.table === config.tables.featureStore;
}

/** The rows one run of `processor` writes for a game date. */
export function processorOutput(
  config: ResolvedConfig,
  processor: ProcessorDef,
  roster: Player[],
  options: OutputOptions,
): TableRows {
  if (isFeatureStore(config, processor)) {
    return {
      table: processor.table,
      columns: FEATURE_STORE_COLUMNS,
      rows: options.empty ? [] : featureRows(roster, options),
    };
  }
  const columns = processorOutputColumns(processor.entityColumn);
  if (options.empty) return { table: processor.table, columns, rows: [] };

  const dayStart = Date.parse(`${options.gameDate}T00:00:00Z`);
  const rows = entitiesOf(processor, [...roster]).map((entity) => {
    const random = stream(options.seed, options.gameDate, processor.name, entity);
    const row: Row = {
      game_date: options.gameDate,
      [processor.entityColumn]: entity,
      stat_value: Math.round(random.float(0, 40) * 100) / 100,
      source_updated_at: new Date(dayStart - random.int(1, 600) * 60_000),
    };
    row.data_hash = options.brokenHash ? BROKEN_HASH : rowHash(row);
    row.processed_at = options.processedAt;
    return row;
  });
  return { table: processor.table, columns, rows };
}

export function featureRows(roster: Player[], options: OutputOptions): Row[] {
  const nullShare = options.nullFeatureShare ?? 0;
  return roster.map((player) => {
    const random = stream(options.seed, options.gameDate, 'features', player.lookup);
    const missing = random.next() < nullShare;
    const row: Row = {
      game_date: options.gameDate,
      player_lookup: player.lookup,
      is_production_ready: true,
      similarity_baseline: missing ? null : round(random.normal(player.scoring, 2), 2),
      fatigue_adjustment: missing ? null : round(random.float(-2.5, 1), 2),
      points_avg_last_10: round(Math.max(0, random.normal(player.scoring, 3)), 1),
      minutes_avg_last_10: round(Math.min(42, Math.max(6, player.scoring * 1.6 + 8)), 1),
      opponent_def_rating: round(random.float(105, 120), 1),
    };
    row.data_hash = options.brokenHash ? BROKEN_HASH : rowHash(row);
    row.created_at = options.processedAt;
    return row;
  });
}

/** A player's prediction for a date: their scoring level plus game-to-game noise. */
export function predictedPoints(seed: number, gameDate: string, player: Player): number {
  const random = stream(seed, gameDate, 'prediction', player.lookup);
  return round(Math.min(60, Math.max(0.5, random.normal(player.scoring, 2.5))), 1);
}

export function predictionRow(
  player: Player,
  value: number,
  meta: { gameDate: string; batchId: string; correlationId: string; createdAt: Date },
): Row {
  return {
    game_date: meta.gameDate,
    player_lookup: player.lookup,
    predicted_points: value,
    batch_id: meta.batchId,
    correlation_id: meta.correlationId,
    created_at: meta.createdAt,
  };
}

export type RunStatus = 'success' | 'failed' | 'skipped' | 'running';

export interface RunRecord {
  processor: string;
  phase: GatedPhase | 5;
  gameDate: string;
  runId: string;
  correlationId: string;
  status: RunStatus;
  startedAt: Date;
  processedAt: Date | null;
  records: number;
  entitiesProcessed: number;
  entitiesChanged: number;
  fullBatch: boolean;
  error?: string;
  triggerMessageId?: string;
}

export function runRow(run: RunRecord): Row {
  return {
    processor_name: run.processor,
    phase: `phase_${run.phase}`,
    data_date: run.gameDate,
    run_id: run.runId,
    correlation_id: run.correlationId,
    status: run.status,
    started_at: run.startedAt,
    processed_at: run.processedAt,
    records_processed: run.records,
    entities_processed: run.entitiesProcessed,
    entities_changed: run.entitiesChanged,
    is_full_batch: run.fullBatch,
    error_message: run.error ?? null,
    trigger_message_id: run.triggerMessageId ?? null,
  };
}

/** Deterministic ids, so two inits with one seed write identical tables. */
export function sandboxId(seed: number, ...labels: string[]): string {
  const random = stream(seed, 'id', ...labels);
  let hex = '';
  while (hex.length < 12) hex += Math.floor(random.next() * 16).toString(16);
  return hex;
}

export const TABLE_COLUMNS = {
  runHistory: RUN_HISTORY_COLUMNS,
  featureStore: FEATURE_STORE_COLUMNS,
  predictions: PREDICTION_COLUMNS,
};

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
