/**
 * Column definitions of the warehouse tables pipectl reads and the sandbox writes. Every
 * reader and writer uses these, so the sandbox, the BigQuery test server and real BigQuery
 * agree on names and types.
 */

import type { ColumnDef } from './backends/ports.js';

export const RUN_HISTORY_COLUMNS: ColumnDef[] = [
  { name: 'processor_name', type: 'STRING' },
  /** 'phase_2' .. 'phase_5' */
  { name: 'phase', type: 'STRING' },
  { name: 'data_date', type: 'DATE' },
  { name: 'run_id', type: 'STRING' },
  { name: 'correlation_id', type: 'STRING' },
  /** success, failed, skipped, running */
  { name: 'status', type: 'STRING' },
  { name: 'started_at', type: 'TIMESTAMP' },
  { name: 'processed_at', type: 'TIMESTAMP' },
  { name: 'records_processed', type: 'INT64' },
  { name: 'entities_processed', type: 'INT64' },
  { name: 'entities_changed', type: 'INT64' },
  { name: 'is_full_batch', type: 'BOOL' },
  { name: 'error_message', type: 'STRING' },
  /** The trigger message this run answered; two runs with one trigger id are a double run. */
  { name: 'trigger_message_id', type: 'STRING' },
];

export const FEATURE_STORE_COLUMNS: ColumnDef[] = [
  { name: 'game_date', type: 'DATE' },
  { name: 'player_lookup', type: 'STRING' },
  { name: 'is_production_ready', type: 'BOOL' },
  { name: 'similarity_baseline', type: 'FLOAT64' },
  { name: 'fatigue_adjustment', type: 'FLOAT64' },
  { name: 'points_avg_last_10', type: 'FLOAT64' },
  { name: 'minutes_avg_last_10', type: 'FLOAT64' },
  { name: 'opponent_def_rating', type: 'FLOAT64' },
  { name: 'data_hash', type: 'STRING' },
  { name: 'created_at', type: 'TIMESTAMP' },
];

export const PREDICTION_COLUMNS: ColumnDef[] = [
  { name: 'game_date', type: 'DATE' },
  { name: 'player_lookup', type: 'STRING' },
  { name: 'predicted_points', type: 'FLOAT64' },
  { name: 'batch_id', type: 'STRING' },
  { name: 'correlation_id', type: 'STRING' },
  { name: 'created_at', type: 'TIMESTAMP' },
];

/**
 * Every Phase 2-4 processor output table has these columns, with `entity_id` named after the
 * processor's entity column (player_lookup or team_abbr).
 */
export function processorOutputColumns(entityColumn: string): ColumnDef[] {
  return [
    { name: 'game_date', type: 'DATE' },
    { name: entityColumn, type: 'STRING' },
    { name: 'stat_value', type: 'FLOAT64' },
    { name: 'source_updated_at', type: 'TIMESTAMP' },
    { name: 'data_hash', type: 'STRING' },
    { name: 'processed_at', type: 'TIMESTAMP' },
  ];
}
