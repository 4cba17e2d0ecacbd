import { describe, expect, inject, it } from 'vitest';

import { todayIn } from '../../src/lib/dates.js';
import { runCli } from '../helpers/cli.js';

const firestore = inject('firestoreHost');
const pubsub = inject('pubsubHost');
const bigquery = inject('bigqueryEndpoint');

interface StatusJson {
  game_date: string;
  gates: { phase: number; expected: number; reported: number; missing: string[] }[];
  coordinator: { status: string | null; expected: number; completed: number };
  diagnosis: string;
  next: string;
}

describe.skipIf(!(firestore && pubsub && bigquery))('status on the emulator profile', () => {
  it('reads gates, batch and tables through the Google clients and names the next step', async () => {
    const date = todayIn('America/Los_Angeles');
    const result = await runCli(['status', '--profile', 'emulator', '--date', date, '--json'], {
      env: {
        FIRESTORE_EMULATOR_HOST: firestore ?? undefined,
        PUBSUB_EMULATOR_HOST: pubsub ?? undefined,
        PIPECTL_BIGQUERY_ENDPOINT: bigquery ?? undefined,
      },
    });
    expect(result.code, result.stderr).toBeLessThanOrEqual(1);
    const body = result.json<StatusJson>();
    expect(body.game_date).toBe(date);
    expect(body.gates.map((g) => [g.phase, g.expected])).toEqual([
      [2, 21],
      [3, 5],
      [4, 5],
    ]);
    expect(body.gates[0]!.missing).toHaveLength(21);
    expect(body.diagnosis.length).toBeGreaterThan(0);
    expect(body.next).toMatch(/^pipectl /);
  });
});
