/**
 * `health` over a season: a sandbox with 170 healthy game days of history (450 players a day)
 * before the judged day, against one with no history. Reports the warehouse queries one run
 * costs (the checks share batched reads, so this must stay about five however many checks
 * there are) and the time of a run in-process, as milliseconds and as the ratio season/empty,
 * which shows whether the date filters keep the cost flat as history grows.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { openLocalBackends } from '../src/lib/backends/local/index.js';
import { loadConfig } from '../src/lib/config.js';
import type { GameDate } from '../src/lib/dates.js';
import { runHealth } from '../src/lib/health/index.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'pipectl.js');
const DATE = '2025-11-20' as GameDate;
const RUNS = 7;

function init(path: string, historyDays: number): number {
  const started = performance.now();
  const result = spawnSync(
    process.execPath,
    [
      BIN,
      'sandbox',
      'init',
      '--scenario',
      'healthy',
      '--date',
      DATE,
      '--players',
      '450',
      '--history-days',
      String(historyDays),
      '--json',
    ],
    { env: { ...process.env, PIPECTL_SANDBOX: path, CI: '1' }, encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`sandbox init failed: ${result.stderr}`);
  return performance.now() - started;
}

interface Measured {
  queries: number;
  ms: number;
  failed: number;
}

/** Runs health on every sandbox in turn, interleaved so machine noise hits each alike. */
async function measure(paths: string[]): Promise<Measured[]> {
  const subjects = paths.map((path) => ({
    config: loadConfig({ sandbox: path, env: {} }),
    backends: openLocalBackends({ path }),
    samples: [] as number[],
    queries: 0,
    failed: 0,
  }));
  try {
    // One untimed run each warms the file cache and DuckDB's catalog.
    for (const s of subjects) await runHealth(s, { date: DATE });
    for (let i = 0; i < RUNS; i++) {
      for (const s of subjects) {
        const started = performance.now();
        const report = await runHealth(s, { date: DATE });
        s.samples.push(performance.now() - started);
        s.queries = report.queries;
        s.failed = report.checks.filter((c) => c.status === 'fail').length;
      }
    }
    return subjects.map((s) => ({ queries: s.queries, ms: median(s.samples), failed: s.failed }));
  } finally {
    for (const s of subjects) await s.backends.close();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'pipectl-bench-health-'));
  try {
    const empty = join(dir, 'empty.duckdb');
    const season = join(dir, 'season.duckdb');
    const initEmptyMs = init(empty, 0);
    const initSeasonMs = init(season, 170);
    const [small, large] = (await measure([empty, season])) as [Measured, Measured];
    return {
      history_days: 170,
      players: 450,
      queries: large.queries,
      queries_without_history: small.queries,
      failed_checks: large.failed,
      health_ms_without_history: Math.round(small.ms),
      health_ms_season: Math.round(large.ms),
      season_over_empty: Number((large.ms / small.ms).toFixed(2)),
      init_ms_without_history: Math.round(initEmptyMs),
      init_ms_season: Math.round(initSeasonMs),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
