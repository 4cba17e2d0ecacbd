/**
 * Fresh backends for a test, one factory per adapter, so a domain suite can run the same
 * tests against both:
 *
 *   describe.each(adapters())('$name', (adapter) => {
 *     describe.skipIf(!adapter.enabled)(...)
 *   })
 *
 * Each `open()` is isolated: the local adapter gets its own temporary DuckDB file; the gcp
 * adapter gets a project id no other test uses, which gives it empty Firestore and Pub/Sub
 * state on the shared emulators. The BigQuery test server keeps one DuckDB file for every
 * project, so warehouse tests name their datasets with `uniqueName()`.
 */

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { inject } from 'vitest';

import type { Profile } from '../../src/lib/config.js';
import { openGcpBackends } from '../../src/lib/backends/gcp/index.js';
import { isLocalBackends, openLocalBackends } from '../../src/lib/backends/local/index.js';
import type { Backends } from '../../src/lib/backends/ports.js';

export interface AdapterCase {
  name: 'local' | 'gcp';
  /** False when a backend this adapter needs is not running; the suite is skipped. */
  enabled: boolean;
  /**
   * Concurrent writers for contention tests, and the attempts each may take. The Firestore
   * emulator serialises contended transactions slowly, so it gets fewer writers.
   */
  contention: { writers: number; maxAttempts: number };
  open(options?: { timeoutMs?: number }): Promise<Backends>;
}

export function adapters(): AdapterCase[] {
  return [localAdapter(), gcpAdapter()];
}

/** A name no other test in this run uses: `prefix_3f9a1c2b`. Valid as a dataset or topic. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

export function localAdapter(): AdapterCase {
  return {
    name: 'local',
    enabled: true,
    contention: { writers: 50, maxAttempts: 200 },
    async open(options = {}) {
      const dir = mkdtempSync(join(tmpdir(), 'pipectl-local-'));
      const backends = openLocalBackends({
        path: join(dir, 'sandbox.duckdb'),
        timeoutMs: options.timeoutMs ?? 10_000,
      });
      return withCleanup(backends, () => rmSync(dir, { recursive: true, force: true }));
    },
  };
}

export function gcpAdapter(): AdapterCase {
  const hosts = gcpHosts();
  return {
    name: 'gcp',
    enabled: hosts !== undefined,
    contention: { writers: 20, maxAttempts: 60 },
    async open(options = {}) {
      if (!hosts) throw new Error('The emulators are not running');
      const profile = gcpProfile(hosts, { timeoutMs: options.timeoutMs });
      const backends = await openGcpBackends(profile);
      projects.set(backends, { projectId: profile.projectId!, pubsubHost: hosts.pubsubHost });
      return backends;
    },
  };
}

const projects = new WeakMap<Backends, { projectId: string; pubsubHost: string }>();

export interface CapturedMessage {
  data: unknown;
  attributes: Record<string, string>;
}

/**
 * Starts recording what is published to `topic` (on Pub/Sub a subscription must exist before
 * the publish). The returned function waits until `expected` messages arrived, or 15 s.
 */
export async function captureTopic(
  backends: Backends,
  topic: string,
): Promise<(expected: number) => Promise<CapturedMessage[]>> {
  await backends.bus.ensureTopic(topic);
  if (isLocalBackends(backends)) {
    return async () =>
      (await backends.messages.list({ topic })).map(({ data, attributes }) => ({
        data,
        attributes,
      }));
  }
  const project = projects.get(backends);
  if (!project) throw new Error('captureTopic needs backends opened by the gcp adapter');
  const { PubSub } = await import('@google-cloud/pubsub');
  const client = new PubSub({
    projectId: project.projectId,
    apiEndpoint: project.pubsubHost,
    emulatorMode: true,
  });
  const [subscription] = await client.topic(topic).createSubscription(uniqueName('capture'));
  const received: CapturedMessage[] = [];
  subscription.on(
    'message',
    (message: { data: Buffer; attributes: Record<string, string>; ack(): void }) => {
      received.push({
        data: JSON.parse(message.data.toString('utf8')),
        attributes: message.attributes,
      });
      message.ack();
    },
  );
  return async (expected) => {
    const deadline = Date.now() + 15_000;
    while (received.length < expected && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await subscription.close();
    await client.close();
    return received;
  };
}

export interface GcpHosts {
  firestoreHost: string;
  pubsubHost: string;
  bigqueryEndpoint: string;
}

export function gcpHosts(): GcpHosts | undefined {
  const firestoreHost = inject('firestoreHost');
  const pubsubHost = inject('pubsubHost');
  const bigqueryEndpoint = inject('bigqueryEndpoint');
  if (!firestoreHost || !pubsubHost || !bigqueryEndpoint) return undefined;
  return { firestoreHost, pubsubHost, bigqueryEndpoint };
}

/** An emulator profile on a project id of its own. */
export function gcpProfile(
  hosts: GcpHosts,
  overrides: { timeoutMs?: number | undefined; projectId?: string } = {},
): Profile {
  return {
    backend: 'gcp',
    projectId: overrides.projectId ?? uniqueName('pipectl-test').replace('_', '-'),
    firestoreEmulatorHost: hosts.firestoreHost,
    pubsubEmulatorHost: hosts.pubsubHost,
    bigqueryEndpoint: hosts.bigqueryEndpoint,
    triggerVia: 'pubsub',
    endpoints: {},
    timeoutMs: overrides.timeoutMs ?? 10_000,
    typedConfirmation: false,
  };
}

function withCleanup<B extends Backends>(backends: B, cleanup: () => void): B {
  return {
    ...backends,
    async close() {
      try {
        await backends.close();
      } finally {
        cleanup();
      }
    },
  };
}
