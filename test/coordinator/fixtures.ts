/**
 * Fixtures for coordinator tests: a sandbox file with feature-store and prediction rows,
 * written through the ports with the shared column definitions.
 */

import { openLocalBackends, type LocalBackends } from '../../src/lib/backends/local/index.js';
import { loadConfig, type ResolvedConfig } from '../../src/lib/config.js';
import type { LibContext } from '../../src/lib/context.js';
import type { GameDate } from '../../src/lib/dates.js';
import { FEATURE_STORE_COLUMNS, PREDICTION_COLUMNS } from '../../src/lib/schema.js';

export const DATE = '2026-01-15' as GameDate;

/** Names that must be plain data everywhere: quotes, SQL punctuation, non-ASCII letters. */
export const AWKWARD_PLAYERS = [
  "o'neal-shaquille",
  'robert"); DROP TABLE x; --',
  'jokić-nikola',
  'dončić-luka',
  '名前-選手',
  'semi;colon',
];

export function players(count: number, prefix = 'player'): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(5, '0')}`);
}

export function localContext(path: string): LibContext & { backends: LocalBackends } {
  const config: ResolvedConfig = loadConfig({ sandbox: path, env: {}, cwd: '/' });
  return { config, backends: openLocalBackends({ path }), actor: 'test@host' };
}

export async function writeFeatures(
  ctx: LibContext,
  gameDate: GameDate,
  names: string[],
  options: { productionReady?: boolean } = {},
): Promise<void> {
  const { featureStore } = ctx.config.tables;
  await ctx.backends.warehouse.ensureTable(featureStore, FEATURE_STORE_COLUMNS);
  await ctx.backends.warehouse.insert(
    featureStore,
    names.map((player_lookup) => ({
      game_date: gameDate,
      player_lookup,
      is_production_ready: options.productionReady ?? true,
      similarity_baseline: 20,
      fatigue_adjustment: 0,
      data_hash: 'h',
      created_at: new Date(),
    })),
    FEATURE_STORE_COLUMNS,
  );
}

export async function writePredictions(
  ctx: LibContext,
  gameDate: GameDate,
  names: string[],
  options: { batchId?: string; correlationId?: string; createdAt?: Date } = {},
): Promise<void> {
  const { predictions } = ctx.config.tables;
  await ctx.backends.warehouse.ensureTable(predictions, PREDICTION_COLUMNS);
  await ctx.backends.warehouse.insert(
    predictions,
    names.map((player_lookup) => ({
      game_date: gameDate,
      player_lookup,
      predicted_points: 18.5,
      batch_id: options.batchId ?? 'batch-fixture',
      correlation_id: options.correlationId ?? 'corr-fixture',
      created_at: options.createdAt ?? new Date(),
    })),
    PREDICTION_COLUMNS,
  );
}
