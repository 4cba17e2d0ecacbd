import { describe, expect, inject, it } from 'vitest';

import { runCli } from '../helpers/cli.js';

const firestore = inject('firestoreHost');
const pubsub = inject('pubsubHost');
const bigquery = inject('bigqueryEndpoint');
const allOn = Boolean(firestore && pubsub && bigquery);

interface Preflight {
  profile: string;
  checks: { backend: string; ok: boolean; ms: number; error: string | null }[];
}

describe.skipIf(!allOn)('preflight on the emulator profile', () => {
  const env = {
    FIRESTORE_EMULATOR_HOST: firestore ?? undefined,
    PUBSUB_EMULATOR_HOST: pubsub ?? undefined,
    PIPECTL_BIGQUERY_ENDPOINT: bigquery ?? undefined,
  };

  it('reaches Firestore, BigQuery and Pub/Sub through the Google clients', async () => {
    const result = await runCli(['preflight', '--profile', 'emulator', '--json'], { env });
    const body = result.json<Preflight>();
    expect(body.profile).toBe('emulator');
    const byBackend = Object.fromEntries(body.checks.map((c) => [c.backend, c]));
    expect(byBackend.documents?.ok).toBe(true);
    expect(byBackend.warehouse?.ok).toBe(true);
    expect(byBackend.bus?.ok).toBe(true);
  });

  it('exits 4 within its deadline when a backend is unreachable', async () => {
    // A loopback port that nothing listens on: refused at once, no traffic leaves the machine.
    const result = await runCli(
      ['preflight', '--profile', 'emulator', '--json', '--deadline', '3000'],
      {
        env: { ...env, PUBSUB_EMULATOR_HOST: '127.0.0.1:9' },
      },
    );
    expect(result.code).toBe(4);
    const bus = result.json<Preflight>().checks.find((c) => c.backend === 'bus')!;
    expect(bus.ok).toBe(false);
    expect(bus.ms).toBeLessThan(10_000);
  });
});
