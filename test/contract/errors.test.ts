/**
 * Failures reach the caller as the error family, whatever the adapter: an unreachable backend
 * is `Unavailable` (exit 4) naming where it looked, within the profile's deadline. These need
 * no emulator: they point the adapters at a loopback port where nothing listens.
 */

import { tmpdir } from 'node:os';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openGcpBackends } from '../../src/lib/backends/gcp/index.js';
import { openLocalBackends } from '../../src/lib/backends/local/index.js';
import type { Backends } from '../../src/lib/backends/ports.js';
import { Unavailable } from '../../src/lib/errors.js';
import { freePort } from '../harness/emulators.js';
import { gcpProfile } from '../harness/backends.js';

const TIMEOUT_MS = 1_500;
// The clients on their own keep retrying a dead host for most of a minute; giving up well
// inside this bound proves the deadline is enforced, with room for a loaded machine.
const GIVES_UP_WITHIN_MS = 10 * TIMEOUT_MS;

async function expectUnavailable(work: Promise<unknown>, mentions: string): Promise<number> {
  const started = performance.now();
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  const elapsed = performance.now() - started;
  expect(error).toBeInstanceOf(Unavailable);
  expect((error as Unavailable).exitCode).toBe(4);
  expect((error as Unavailable).message).toContain(mentions);
  return elapsed;
}

describe('gcp adapter with nothing listening', () => {
  let backends: Backends;
  let host: string;

  beforeAll(async () => {
    host = `127.0.0.1:${await freePort()}`;
    backends = await openGcpBackends(
      gcpProfile(
        { firestoreHost: host, pubsubHost: host, bigqueryEndpoint: `http://${host}` },
        { timeoutMs: TIMEOUT_MS },
      ),
    );
  });
  afterAll(async () => {
    await backends?.close();
  });

  it('reports Firestore as Unavailable naming its host, within the deadline', async () => {
    const elapsed = await expectUnavailable(backends.documents.get('predictions/2026-12-01'), host);
    expect(elapsed).toBeLessThan(GIVES_UP_WITHIN_MS);
  });

  it('reports Pub/Sub as Unavailable when no message could be published', async () => {
    const elapsed = await expectUnavailable(
      backends.bus.publish('phase5-trigger', [
        { data: { game_date: '2026-12-01' }, attributes: {} },
      ]),
      host,
    );
    expect(elapsed).toBeLessThan(GIVES_UP_WITHIN_MS);
  });

  it('reports BigQuery as Unavailable naming its endpoint', async () => {
    const elapsed = await expectUnavailable(backends.warehouse.query('SELECT 1 AS ok'), host);
    expect(elapsed).toBeLessThan(GIVES_UP_WITHIN_MS);
  });

  it('fails ping for each unreachable backend with Unavailable', async () => {
    for (const backend of ['documents', 'warehouse', 'bus'] as const) {
      await expectUnavailable(backends.ping(backend), host);
      const error = await backends.ping(backend).catch((e: unknown) => e);
      // The hint tells the operator how to start the emulator or fix the profile.
      expect((error as Unavailable).hint).toMatch(/emulator|server|bigqueryEndpoint/);
    }
  });
});

describe('local adapter with an unusable sandbox file', () => {
  it('reports Unavailable instead of crashing when the sandbox path is a directory', async () => {
    const backends = openLocalBackends({ path: tmpdir(), timeoutMs: TIMEOUT_MS });
    try {
      await expectUnavailable(backends.documents.get('predictions/2026-12-01'), 'sandbox');
    } finally {
      await backends.close();
    }
  });
});
