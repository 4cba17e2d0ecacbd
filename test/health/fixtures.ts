/**
 * A small game day written through the ports into a sandbox file, healthy by default, with
 * knobs that break exactly one thing each. Used for the threshold-edge tests, where the exact
 * numbers matter more than realism.
 */

import { openLocalBackends } from '../../src/lib/backends/local/index.js';
import type { Row } from '../../src/lib/backends/ports.js';
import { DEFAULT_CONFIG } from '../../src/lib/config.js';
import { rowHash } from '../../src/lib/hashing.js';
import type { ProcessorDef } from '../../src/lib/pipeline.js';
import {
  FEATURE_STORE_COLUMNS,
  PREDICTION_COLUMNS,
  RUN_HISTORY_COLUMNS,
  processorOutputColumns,
} from '../../src/lib/schema.js';

export const DATE = '2025-01-15';
/** 11:00 ET on the game date: an hour past the SLA. */
export const AFTER_DEADLINE = '2025-01-15T16:00:00Z';
/** 06:00 ET: four hours before the SLA. */
export const EARLY_MORNING = '2025-01-15T11:00:00Z';

export interface DayOptions {
  players?: number;
  /** predicted_points per player index; default 10 + i % 20 (mean ≈ 19.5). */
  prediction?: (i: number) => number | null;
  /** Players (from the end) with no prediction. */
  unpredicted?: number;
  /** Per critical feature column, how many rows are NULL. */
  nullFeatures?: Partial<Record<'similarity_baseline' | 'fatigue_adjustment', number>>;
  /** entities_changed reported by every run. */
  changed?: number | 'all';
  /** entities_processed by player-keyed processors' runs. */
  playerEntities?: number;
  /** Output tables left empty although their processor reported success. */
  emptyTables?: string[];
  /** Phase 5 runs carry another correlation id: the early one is lost. */
  loseCorrelation?: boolean;
  /** Phase 3 processors run twice for the same trigger message. */
  doubleRun?: boolean;
  /** A processor of phase 3 never reports: its gate stays open. */
  stuckGate?: boolean;
  /** A coordinator lease left by a dead coordinator, batch still running. */
  staleLease?: boolean;
  /** Stored data_hash values are all the same string (a broken hash). */
  brokenHash?: boolean;
  /** Only the feature store and predictions: enough for the prediction and feature checks. */
  minimal?: boolean;
}

const PHASES = [
  { phase: 'phase_2', key: 'phase2', processors: DEFAULT_CONFIG.processors.phase2, hour: 7 },
  { phase: 'phase_3', key: 'phase3', processors: DEFAULT_CONFIG.processors.phase3, hour: 8 },
  { phase: 'phase_4', key: 'phase4', processors: DEFAULT_CONFIG.processors.phase4, hour: 9 },
] as const;

export async function writeDay(path: string, options: DayOptions = {}): Promise<void> {
  const players = options.players ?? 120;
  const teams = 10;
  const backends = openLocalBackends({ path });
  const { warehouse, documents } = backends;
  const at = (hourUtc: number, minute = 0) =>
    new Date(`${DATE}T${String(hourUtc).padStart(2, '0')}:${String(minute).padStart(2, '0')}:00Z`);
  const player = (i: number) => `player_${String(i).padStart(3, '0')}`;

  // One open of the file for the whole day instead of one per statement.
  try {
    await backends.database.hold(() => write());
  } finally {
    await backends.close();
  }

  async function write(): Promise<void> {
    await warehouse.ensureTable('nba_reference.processor_run_history', RUN_HISTORY_COLUMNS);
    await warehouse.ensureTable('nba_predictions.player_prop_predictions', PREDICTION_COLUMNS);
    await warehouse.ensureTable('nba_predictions.ml_feature_store_v2', FEATURE_STORE_COLUMNS);

    // Feature store.
    const features: Row[] = [];
    for (let i = 0; i < players; i++) {
      const row: Row = {
        game_date: DATE,
        player_lookup: player(i),
        is_production_ready: true,
        similarity_baseline:
          i < (options.nullFeatures?.similarity_baseline ?? 0) ? null : 0.5 + i / 1000,
        fatigue_adjustment:
          i < (options.nullFeatures?.fatigue_adjustment ?? 0) ? null : -0.1 + i / 2000,
        points_avg_last_10: 12 + (i % 15),
        minutes_avg_last_10: 20 + (i % 10),
        opponent_def_rating: 110 + (i % 7),
      };
      row.data_hash = options.brokenHash ? 'constant' : rowHash(row);
      row.created_at = at(14);
      features.push(row);
    }
    await warehouse.insert('nba_predictions.ml_feature_store_v2', features, FEATURE_STORE_COLUMNS);

    // Predictions.
    const predictions: Row[] = [];
    const predicted = players - (options.unpredicted ?? 0);
    for (let i = 0; i < predicted; i++) {
      predictions.push({
        game_date: DATE,
        player_lookup: player(i),
        predicted_points: options.prediction ? options.prediction(i) : 10 + (i % 20),
        batch_id: 'batch-1',
        correlation_id: 'corr-day',
        created_at: at(14, 30),
      });
    }
    await warehouse.insert(
      'nba_predictions.player_prop_predictions',
      predictions,
      PREDICTION_COLUMNS,
    );

    // Processor output tables and run history.
    const runs: Row[] = [];
    for (const { phase, key, processors, hour } of PHASES) {
      const reports: Record<string, unknown> = {};
      for (const [index, p] of processors.entries()) {
        const entities = p.entityColumn === 'player_lookup' ? players : teams;
        if (p.table !== 'nba_predictions.ml_feature_store_v2') {
          await writeOutput(warehouse, p, options.emptyTables?.includes(p.table) ? 0 : entities);
        }
        const processed =
          p.entityColumn === 'player_lookup' ? (options.playerEntities ?? players) : teams;
        const changed =
          options.changed === undefined || options.changed === 'all' ? processed : options.changed;
        const run = (n: number): Row => ({
          processor_name: p.name,
          phase,
          data_date: DATE,
          run_id: `${p.name}-${n}`,
          correlation_id: 'corr-day',
          status: 'success',
          started_at: at(hour, index),
          processed_at: at(hour, index + 1),
          records_processed: processed,
          entities_processed: processed,
          entities_changed: changed,
          is_full_batch: true,
          error_message: null,
          trigger_message_id: `trigger-${phase}`,
        });
        runs.push(run(1));
        if (options.doubleRun && phase === 'phase_3')
          runs.push({ ...run(2), processed_at: at(hour, index + 30) });
        const stuck = options.stuckGate && phase === 'phase_3' && index === 2;
        if (!stuck) {
          reports[p.name] = {
            completed_at: at(hour, index + 1),
            status: 'success',
            correlation_id: 'corr-day',
            record_count: processed,
            entities_changed: [],
          };
        }
      }
      const triggered = !(options.stuckGate && phase === 'phase_3');
      await documents.set(`${key}_completion/${DATE}`, {
        ...reports,
        _triggered: triggered,
        ...(triggered
          ? { _triggered_at: at(hour, 59), _trigger_message_id: `trigger-${phase}` }
          : {}),
      });
    }
    runs.push({
      processor_name: 'PredictionCoordinator',
      phase: 'phase_5',
      data_date: DATE,
      run_id: 'coordinator-1',
      correlation_id: options.loseCorrelation ? 'corr-other' : 'corr-day',
      status: 'success',
      started_at: at(14),
      processed_at: at(14, 40),
      records_processed: predicted,
      entities_processed: predicted,
      entities_changed:
        options.changed === undefined || options.changed === 'all' ? predicted : options.changed,
      is_full_batch: true,
      error_message: null,
      trigger_message_id: 'trigger-phase_5',
    });
    await warehouse.insert('nba_reference.processor_run_history', runs, RUN_HISTORY_COLUMNS);

    await documents.set(`predictions/${DATE}`, {
      batch_id: 'batch-1',
      correlation_id: 'corr-day',
      status: options.staleLease ? 'running' : 'complete',
      expected: players,
      completed: options.staleLease ? Math.floor(players / 2) : predicted,
      started_at: at(14),
      updated_at: at(14, 40),
      instance: 'coordinator-a',
    });
    if (options.staleLease) {
      await documents.set(`coordinator_lock/${DATE}`, {
        holder: 'coordinator-a',
        acquired_at: at(14),
        expires_at: at(14, 10),
      });
    }

    async function writeOutput(w: typeof warehouse, p: ProcessorDef, count: number): Promise<void> {
      const columns = processorOutputColumns(p.entityColumn);
      await w.ensureTable(p.table, columns);
      const rows: Row[] = [];
      for (let i = 0; i < count; i++) {
        const row: Row = {
          game_date: DATE,
          [p.entityColumn]: p.entityColumn === 'player_lookup' ? player(i) : `T${i}`,
          stat_value: i * 1.5,
          source_updated_at: at(6),
        };
        row.data_hash = options.brokenHash ? 'constant' : rowHash(row);
        row.processed_at = at(7);
        rows.push(row);
      }
      await w.insert(p.table, rows, columns);
    }
  }
}
