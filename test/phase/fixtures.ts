/**
 * Fixtures for phase tests: a sandbox file, a config file beside it when a test needs one,
 * and writers for upstream tables and run history that use the shared column definitions.
 */

import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { openLocalBackends, type LocalBackends } from '../../src/lib/backends/local/index.js';
import { loadConfig, processorsFor } from '../../src/lib/config.js';
import type { LibContext } from '../../src/lib/context.js';
import type { GameDate } from '../../src/lib/dates.js';
import type { GatedPhase } from '../../src/lib/pipeline.js';
import {
  FEATURE_STORE_COLUMNS,
  RUN_HISTORY_COLUMNS,
  processorOutputColumns,
} from '../../src/lib/schema.js';
import { runCli, tempSandbox, type CliResult } from '../helpers/cli.js';

export const DATE = '2026-01-15' as GameDate;

export interface Sandbox {
  path: string;
  /** A pipectl.config.json beside the sandbox, when the test wrote one. */
  configPath?: string;
  run(args: string[], options?: { timeoutMs?: number }): Promise<CliResult>;
  /** Opens the file, runs `fn`, closes it again so the CLI can take the file. */
  with<T>(fn: (ctx: LibContext & { backends: LocalBackends }) => Promise<T>): Promise<T>;
}

export function sandbox(config?: Record<string, unknown>): Sandbox {
  const path = tempSandbox('pipectl-phase-');
  let configPath: string | undefined;
  if (config) {
    configPath = join(dirname(path), 'pipectl.config.json');
    writeFileSync(configPath, JSON.stringify(config, null, 2));
  }
  const globals = configPath ? ['--config', configPath] : [];
  return {
    path,
    ...(configPath ? { configPath } : {}),
    run: (args, options = {}) =>
      runCli([...globals, ...args], {
        env: { PIPECTL_SANDBOX: path, PIPECTL_PROFILE: undefined, PIPECTL_ACTOR: 'tester@test' },
        ...options,
      }),
    async with(fn) {
      const ctx = {
        config: loadConfig({
          sandbox: path,
          env: {},
          cwd: '/',
          ...(configPath ? { configPath } : {}),
        }),
        backends: openLocalBackends({ path }),
        actor: 'tester@test',
      };
      try {
        return await fn(ctx);
      } finally {
        await ctx.backends.close();
      }
    },
  };
}

/** Rows for every output table of `phase`'s processors on `gameDate`. */
export async function writePhaseOutput(
  ctx: LibContext,
  phase: GatedPhase,
  gameDate: GameDate,
  options: { processedAt?: Date; rows?: number; skip?: string[] } = {},
): Promise<void> {
  const processedAt = options.processedAt ?? new Date();
  for (const p of processorsFor(ctx.config, phase)) {
    if (options.skip?.includes(p.name)) continue;
    const featureStore = p.table === ctx.config.tables.featureStore;
    const columns = featureStore ? FEATURE_STORE_COLUMNS : processorOutputColumns(p.entityColumn);
    await ctx.backends.warehouse.ensureTable(p.table, columns);
    const rows = Array.from({ length: options.rows ?? 3 }, (_, i) =>
      featureStore
        ? {
            game_date: gameDate,
            player_lookup: `player-${i}`,
            is_production_ready: true,
            similarity_baseline: 20,
            fatigue_adjustment: 0,
            data_hash: 'h',
            created_at: processedAt,
          }
        : {
            game_date: gameDate,
            [p.entityColumn]: `entity-${i}`,
            stat_value: i,
            source_updated_at: processedAt,
            data_hash: `h${i}`,
            processed_at: processedAt,
          },
    );
    await ctx.backends.warehouse.insert(p.table, rows, columns);
  }
}

export interface RunRow {
  processor: string;
  phase: number;
  gameDate: GameDate;
  status: 'running' | 'success' | 'failed';
  runId?: string;
  startedAt?: Date;
  error?: string;
}

export async function writeRunHistory(ctx: LibContext, runs: RunRow[]): Promise<void> {
  const table = ctx.config.tables.runHistory;
  await ctx.backends.warehouse.ensureTable(table, RUN_HISTORY_COLUMNS);
  await ctx.backends.warehouse.insert(
    table,
    runs.map((r) => ({
      processor_name: r.processor,
      phase: `phase_${r.phase}`,
      data_date: r.gameDate,
      run_id: r.runId ?? `run-${r.processor}-${Math.random().toString(36).slice(2)}`,
      correlation_id: 'corr-existing',
      status: r.status,
      started_at: r.startedAt ?? new Date(),
      processed_at: r.status === 'running' ? null : new Date(),
      records_processed: 0,
      entities_processed: 0,
      entities_changed: 0,
      is_full_batch: true,
      error_message: r.error ?? null,
      trigger_message_id: null,
    })),
    RUN_HISTORY_COLUMNS,
  );
}

/** Days from today in the pipeline's zone, as YYYY-MM-DD (for "too far ahead" tests). */
export function daysFromToday(days: number, timezone = 'America/Los_Angeles'): string {
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: timezone }).format(new Date());
  const date = new Date(`${today}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}
