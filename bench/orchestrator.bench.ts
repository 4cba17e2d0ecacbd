/**
 * The orchestrator gate under simultaneous reports: 21 (Phase 2's real count) and 100 (a gate
 * configured with 100 synthetic processors) processors report at the same moment, on the
 * embedded backend and, when the Google Cloud CLI is installed, 21 on the Firestore and Pub/Sub
 * emulators. Prints reports per second, p50/p95 latency of one report, and how many reports
 * completed the gate per round: it must be exactly 1 every round.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { openGcpBackends } from '../src/lib/backends/gcp/index.js';
import { openLocalBackends } from '../src/lib/backends/local/index.js';
import type { Backends } from '../src/lib/backends/ports.js';
import { expectedProcessors, recordReport } from '../src/lib/completion.js';
import { loadConfig, type ResolvedConfig } from '../src/lib/config.js';
import { addDays, type GameDate } from '../src/lib/dates.js';
import type { GatedPhase, ProcessorDef } from '../src/lib/pipeline.js';
import {
  findLauncher,
  findSdkRoot,
  startEmulator,
  type Emulator,
} from '../test/harness/emulators.js';

const DATE = '2026-01-15' as GameDate;

interface Scenario {
  reports: number;
  rounds: number;
  reports_per_second: number;
  p50_ms: number;
  p95_ms: number;
  /** Reports that completed the gate, per round; every entry must be 1. */
  triggers_per_round: number[];
  trigger_messages: number;
  exactly_once: boolean;
}

function configWith(count: number): { config: ResolvedConfig; phase: GatedPhase } {
  const base = loadConfig({ env: {} });
  if (count === 21) return { config: base, phase: 2 };
  const phase3: ProcessorDef[] = Array.from({ length: count }, (_, i) => ({
    name: `SyntheticProcessor${String(i + 1).padStart(3, '0')}`,
    table: 'nba_analytics.synthetic',
    entityColumn: 'player_lookup',
  }));
  return { config: { ...base, processors: { ...base.processors, phase3 } }, phase: 3 };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function scenario(
  backends: Backends,
  count: number,
  rounds: number,
  countMessages: (topic: string) => Promise<number>,
): Promise<Scenario> {
  const { config, phase } = configWith(count);
  const ctx = { config, backends, actor: 'bench' };
  const names = expectedProcessors(config, phase);
  const latencies: number[] = [];
  const triggers: number[] = [];
  let elapsed = 0;

  for (let round = 0; round < rounds; round++) {
    const date = addDays(DATE, round + (count === 21 ? 0 : 100));
    const started = performance.now();
    const outcomes = await Promise.all(
      names.map(async (processor, i) => {
        const t0 = performance.now();
        const outcome = await recordReport(ctx, phase, date, {
          processor,
          status: 'success',
          correlationId: `bench-${date}`,
          recordCount: 1,
          entitiesChanged: [`player-${i}`],
        });
        latencies.push(performance.now() - t0);
        return outcome;
      }),
    );
    elapsed += performance.now() - started;
    triggers.push(outcomes.filter((o) => o.triggered).length);
  }

  const messages = await countMessages(
    config.topics[`phase${phase + 1}Trigger` as 'phase3Trigger'],
  );
  return {
    reports: count,
    rounds,
    reports_per_second: Math.round(((count * rounds) / elapsed) * 1000 * 10) / 10,
    p50_ms: Math.round(percentile(latencies, 50)),
    p95_ms: Math.round(percentile(latencies, 95)),
    triggers_per_round: triggers,
    trigger_messages: messages,
    exactly_once: triggers.every((t) => t === 1) && messages === rounds,
  };
}

async function embedded(): Promise<Record<string, Scenario | number>> {
  const dir = mkdtempSync(join(tmpdir(), 'pipectl-bench-'));
  const backends = openLocalBackends({ path: join(dir, 'sandbox.duckdb') });
  const count = async (topic: string) => (await backends.messages.list({ topic })).length;
  try {
    const small = await scenario(backends, 21, 5, count);
    const large = await scenario(backends, 100, 3, count);
    return {
      reports_21: small,
      reports_100: large,
      // Below 1: throughput falls as more writers contend for the one gate document.
      throughput_ratio_100_vs_21:
        Math.round((large.reports_per_second / small.reports_per_second) * 100) / 100,
    };
  } finally {
    await backends.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function emulator(): Promise<Record<string, unknown>> {
  const sdk = findSdkRoot();
  const firestore = findLauncher('firestore', sdk);
  const pubsub = findLauncher('pubsub', sdk);
  if ('missing' in firestore) return { skipped: firestore.missing };
  if ('missing' in pubsub) return { skipped: pubsub.missing };

  const started: Emulator[] = [];
  try {
    started.push(await startEmulator('firestore', firestore.path));
    started.push(await startEmulator('pubsub', pubsub.path));
    const backends = await openGcpBackends({
      backend: 'gcp',
      projectId: 'pipectl-bench',
      firestoreEmulatorHost: started[0]!.host,
      pubsubEmulatorHost: started[1]!.host,
      triggerVia: 'pubsub',
      endpoints: {},
      timeoutMs: 30_000,
      typedConfirmation: false,
    });
    const { PubSub } = await import('@google-cloud/pubsub');
    const client = new PubSub({
      projectId: 'pipectl-bench',
      apiEndpoint: started[1]!.host,
      emulatorMode: true,
    });
    // A subscription made before the first publish sees every trigger message.
    await backends.bus.ensureTopic('phase3-trigger');
    const [subscription] = await client.topic('phase3-trigger').createSubscription('bench');
    let received = 0;
    subscription.on('message', (m: { ack(): void }) => {
      received += 1;
      m.ack();
    });
    const countMessages = async () => {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      return received;
    };
    try {
      // Limitation: 100 contending writers on one emulator document take minutes and abort
      // transactions; the emulator runs the 21-writer case only (see BACKENDS.md).
      return { reports_21: await scenario(backends, 21, 2, countMessages) };
    } finally {
      await subscription.close();
      await client.close();
      await backends.close();
    }
  } finally {
    await Promise.allSettled(started.map((e) => e.stop()));
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const local = await embedded();
  const gcp = await emulator().catch((error: Error) => ({ error: error.message }));
  return { embedded: local, firestore_emulator: gcp };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${JSON.stringify(await run(), null, 2)}\n`);
}
