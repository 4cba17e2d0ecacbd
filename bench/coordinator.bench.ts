/**
 * Republishing missing prediction requests: pipectl against the runbook's loop of one
 * `gcloud pubsub topics publish` per player, both on the same official Pub/Sub emulator in one
 * run. pipectl runs as a whole process (`node bin/pipectl.js --profile emulator`) with the
 * Firestore emulator for its ledger and leases and the BigQuery test server for the warehouse.
 * Also: 50,000 players with the child's peak memory, and the reconstruct query on a season of
 * history. Targets: >= 200x faster than the loop, < 200 MB peak, < 50 ms per reconstruct query.
 * Skips (and says why) when the Google Cloud CLI or its emulators are absent.
 */

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startBigQueryServer } from '../test/harness/bigquery-server.js';
import {
  findLauncher,
  findSdkRoot,
  startEmulator,
  type Emulator,
} from '../test/harness/emulators.js';
import { openGcpBackends } from '../src/lib/backends/gcp/index.js';
import { openLocalBackends } from '../src/lib/backends/local/index.js';
import { LocalWarehouse } from '../src/lib/backends/local/warehouse.js';
import type { Row, Warehouse } from '../src/lib/backends/ports.js';
import { loadConfig } from '../src/lib/config.js';
import { reconstruct } from '../src/lib/coordinator/index.js';
import { addDays, todayIn, type GameDate } from '../src/lib/dates.js';
import { initScenario } from '../src/lib/sandbox/index.js';
import { FEATURE_STORE_COLUMNS, PREDICTION_COLUMNS } from '../src/lib/schema.js';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'pipectl.js');
const PROBE = join(import.meta.dirname, 'rss-probe.cjs');
const PROJECT = 'pipectl-emulator';
const PLAYERS = 450;
const BIG = 50_000;
const PIPECTL_RUNS = 5;
const GCLOUD_CALLS = 10;
const FIRST_DATE = '2026-01-01' as GameDate;
const BIG_DATE = '2026-02-01' as GameDate;

function names(count: number, prefix = 'player'): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(5, '0')}`);
}

function featureRows(date: GameDate, players: string[]): Row[] {
  return players.map((player_lookup) => ({
    game_date: date,
    player_lookup,
    is_production_ready: true,
    similarity_baseline: 20,
    fatigue_adjustment: 0,
    data_hash: 'h',
    created_at: new Date(),
  }));
}

async function insertChunked(
  warehouse: Warehouse,
  table: string,
  rows: Row[],
  columns = FEATURE_STORE_COLUMNS,
) {
  for (let i = 0; i < rows.length; i += 10_000) {
    await warehouse.insert(table, rows.slice(i, i + 10_000), columns);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Runs a command to completion without blocking this process: the BigQuery test server the
 * child talks to lives in this process, so a synchronous spawn would deadlock.
 */
function timed(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ ms: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code === 0) resolve({ ms, stdout });
      else reject(new Error(`${command} ${args.slice(0, 5).join(' ')} exited ${code}: ${stderr}`));
    });
  });
}

export async function run(): Promise<Record<string, unknown>> {
  const work = mkdtempSync(join(tmpdir(), 'pipectl-bench-coord-'));
  const emulators: Emulator[] = [];
  const closers: Array<() => Promise<void>> = [];
  try {
    const history = await reconstructOnHistory(join(work, 'history.duckdb'));

    const sdkRoot = findSdkRoot();
    const pubsubLauncher = findLauncher('pubsub', sdkRoot);
    const firestoreLauncher = findLauncher('firestore', sdkRoot);
    if ('missing' in pubsubLauncher || 'missing' in firestoreLauncher) {
      const why =
        'missing' in pubsubLauncher
          ? pubsubLauncher.missing
          : (firestoreLauncher as { missing: string }).missing;
      process.stderr.write(`bench coordinator: republish comparison skipped: ${why}\n`);
      return { skipped: `republish comparison: ${why}`, reconstruct: history };
    }

    const [pubsub, firestore] = await Promise.all([
      startEmulator('pubsub', pubsubLauncher.path, { logFile: join(work, 'pubsub.log') }),
      startEmulator('firestore', firestoreLauncher.path, { logFile: join(work, 'firestore.log') }),
    ]);
    emulators.push(pubsub, firestore);

    // The warehouse: feature rows for one date per pipectl run and a 50,000-player date, no
    // predictions yet (the coordinator crashed before any worker wrote).
    const dates = Array.from({ length: PIPECTL_RUNS }, (_, i) => addDays(FIRST_DATE, i));
    const warehousePath = join(work, 'warehouse.duckdb');
    const seed = LocalWarehouse.open(warehousePath);
    const config = loadConfig({ profile: 'emulator', env: {}, cwd: work });
    await seed.ensureTable(config.tables.featureStore, FEATURE_STORE_COLUMNS);
    await seed.ensureTable(config.tables.predictions, PREDICTION_COLUMNS);
    for (const date of dates)
      await insertChunked(seed, config.tables.featureStore, featureRows(date, names(PLAYERS)));
    await insertChunked(seed, config.tables.featureStore, featureRows(BIG_DATE, names(BIG)));
    const bigquery = await startBigQueryServer({ path: warehousePath });
    closers.push(() => bigquery.close());

    const env = {
      ...process.env,
      CI: '1',
      NO_COLOR: '1',
      FIRESTORE_EMULATOR_HOST: firestore.host,
      PUBSUB_EMULATOR_HOST: pubsub.host,
      PIPECTL_BIGQUERY_ENDPOINT: bigquery.url,
      METADATA_SERVER_DETECTION: 'none',
    };
    const gcpConfig = loadConfig({ profile: 'emulator', env, cwd: work });
    const backends = await openGcpBackends(gcpConfig.profile);
    closers.push(() => backends.close());
    await warmUp(() => backends.documents.serverTime());
    await warmUp(() => backends.bus.ensureTopic(gcpConfig.topics.predictionRequest));
    for (const date of [...dates, BIG_DATE]) {
      await backends.documents.set(`${gcpConfig.collections.predictions}/${date}`, {
        batch_id: `batch-${date}`,
        correlation_id: `corr-${date}`,
        status: 'running',
        expected: date === BIG_DATE ? BIG : PLAYERS,
        completed: 0,
      });
    }

    // The runbook: one gcloud call per player, against the same emulator.
    const gcloudEnv = {
      ...process.env,
      CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB: `http://${pubsub.host}/`,
      CLOUDSDK_CORE_PROJECT: PROJECT,
      CLOUDSDK_AUTH_DISABLE_CREDENTIALS: 'true',
      CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
      CLOUDSDK_CONFIG: join(work, 'gcloud-config'),
    };
    // pipectl (the whole process, one date per run so each starts from an empty ledger) and
    // the runbook's gcloud loop take turns, so machine noise hits both alike.
    const pipectlMs: number[] = [];
    const gcloudMs: number[] = [];
    const gcloudPlayers = names(GCLOUD_CALLS, 'gcloud');
    const perTurn = Math.ceil(GCLOUD_CALLS / dates.length);
    for (const date of dates) {
      const { ms, stdout } = await timed(
        process.execPath,
        [
          BIN,
          '--profile',
          'emulator',
          'coordinator',
          'republish',
          '--date',
          date,
          '--yes',
          '--json',
        ],
        env,
      );
      const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as { published: number };
      if (summary.published !== PLAYERS) {
        throw new Error(`pipectl published ${summary.published} of ${PLAYERS}`);
      }
      pipectlMs.push(ms);

      for (const player of gcloudPlayers.splice(0, perTurn)) {
        const data = JSON.stringify({
          game_date: FIRST_DATE,
          correlation_id: 'corr',
          player_lookup: player,
          batch_id: 'b',
          attempt: 2,
        });
        const attributes = `game_date=${FIRST_DATE},correlation_id=corr,player_lookup=${player},idempotency_key=corr:prediction-request:${FIRST_DATE}:${player}`;
        const topic = gcpConfig.topics.predictionRequest;
        const { ms: gms } = await timed(
          'gcloud',
          ['pubsub', 'topics', 'publish', topic, `--message=${data}`, `--attribute=${attributes}`],
          gcloudEnv,
        );
        gcloudMs.push(gms);
      }
    }
    const perMessage = gcloudMs.reduce((a, b) => a + b, 0) / gcloudMs.length;
    const loopMs = perMessage * PLAYERS;
    const pipectl = median(pipectlMs);

    // 50,000 players: time and the child's peak memory.
    const rssFile = join(work, 'rss');
    const big = await timed(
      process.execPath,
      [
        '-r',
        PROBE,
        BIN,
        '--profile',
        'emulator',
        'coordinator',
        'republish',
        '--date',
        BIG_DATE,
        '--yes',
        '--json',
      ],
      { ...env, PIPECTL_RSS_FILE: rssFile },
    );
    const bigSummary = JSON.parse(big.stdout.trim().split('\n').at(-1)!) as { published: number };
    const peakMb = Number(readFileSync(rssFile, 'utf8')) / 1024;

    return {
      players: PLAYERS,
      pipectl_ms: Math.round(pipectl),
      pipectl_runs_ms: pipectlMs.map(Math.round),
      gcloud_calls: GCLOUD_CALLS,
      gcloud_ms_per_message: Math.round(perMessage),
      gcloud_loop_ms_projected: Math.round(loopMs),
      speedup: Number((loopMs / pipectl).toFixed(1)),
      speedup_target: 200,
      speedup_met: loopMs / pipectl >= 200,
      big: {
        players: BIG,
        published: bigSummary.published,
        ms: Math.round(big.ms),
        peak_rss_mb: Math.round(peakMb),
        peak_rss_target_mb: 200,
        peak_rss_met: peakMb < 200,
      },
      reconstruct: history,
    };
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await Promise.allSettled(emulators.map((e) => e.stop()));
    rmSync(work, { recursive: true, force: true });
  }
}

/** A JVM emulator listens before it answers quickly; the first calls may hit the deadline. */
async function warmUp(call: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await call();
      return;
    } catch (error) {
      if (attempt >= 10) throw error;
    }
  }
}

/**
 * The reconstruct query on a sandbox as the drill sees it: the coordinator-crash scenario on
 * top of 170 earlier game days (about a million prediction rows). Query time, warm.
 */
async function reconstructOnHistory(path: string): Promise<Record<string, unknown>> {
  const DAYS = 170;
  const config = loadConfig({ sandbox: path, env: {}, cwd: '/' });
  const backends = openLocalBackends({ path });
  const ctx = { config, backends, actor: 'bench' };
  const target = todayIn(config.timezone);
  try {
    const loadStarted = performance.now();
    const init = await initScenario(ctx, {
      scenario: 'coordinator-crash',
      gameDate: target,
      players: PLAYERS,
      seed: 42,
      historyDays: DAYS,
    });
    const loadMs = performance.now() - loadStarted;
    const [counted] = await backends.warehouse.query(
      `SELECT COUNT(*) AS n FROM \`${config.tables.predictions}\``,
    );

    const samples: number[] = [];
    let missing = 0;
    await backends.database.hold(async () => {
      await reconstruct(ctx, target); // warm
      for (let i = 0; i < 20; i++) {
        const started = process.hrtime.bigint();
        missing = (await reconstruct(ctx, target)).missing.length;
        samples.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
    });
    const ms = median(samples);
    return {
      history_days: DAYS,
      load_ms: Math.round(loadMs),
      rows_loaded: Object.values(init.rows).reduce((a: number, b: number) => a + b, 0),
      prediction_rows: Number(counted?.n ?? 0),
      missing,
      query_ms: Number(ms.toFixed(2)),
      query_target_ms: 50,
      query_met: ms < 50,
    };
  } finally {
    await backends.close();
  }
}
