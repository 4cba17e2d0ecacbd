/**
 * The gate transaction on the Firestore and Pub/Sub emulators: the same exactly-once claim as
 * on the embedded backend, against Firestore's own transaction semantics. Skipped when the
 * harness could not start the emulators.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Backends } from '../../src/lib/backends/ports.js';
import { expectedProcessors, readGate, recordReport, retrigger } from '../../src/lib/completion.js';
import { loadConfig } from '../../src/lib/config.js';
import type { LibContext } from '../../src/lib/context.js';
import { addDays } from '../../src/lib/dates.js';
import { Refusal } from '../../src/lib/errors.js';
import { forceComplete } from '../../src/lib/orchestrator.js';
import { captureTopic, gcpAdapter } from '../harness/backends.js';
import { DATE } from './helpers.js';

const adapter = gcpAdapter();
// Each contended round takes the emulator about 12 s (20 rounds: about 250 s on two cores);
// PIPECTL_GATE_ROUNDS=3 gives a quicker local check.
const ROUNDS = Number(process.env.PIPECTL_GATE_ROUNDS ?? 20);

describe.skipIf(!adapter.enabled)('the gate on the Firestore emulator', () => {
  let backends: Backends;
  let ctx: LibContext;

  beforeAll(async () => {
    backends = await adapter.open({ timeoutMs: 30_000 });
    ctx = { config: loadConfig({ env: {} }), backends, actor: 'test@emulator' };
  });
  afterAll(async () => {
    await backends?.close();
  });

  it(`triggers phase 3 exactly once per round when 21 processors report at the same moment, ${ROUNDS} rounds`, async () => {
    const names = expectedProcessors(ctx.config, 2);
    const received = await captureTopic(backends, 'phase3-trigger');
    const dates = Array.from({ length: ROUNDS }, (_, i) => addDays(DATE, i));

    for (const date of dates) {
      const outcomes = await Promise.all(
        names.map((processor, i) =>
          recordReport(ctx, 2, date, {
            processor,
            status: 'success',
            correlationId: `corr-${date}`,
            recordCount: 1,
            entitiesChanged: [`player-${i}`],
          }),
        ),
      );
      expect(
        outcomes.filter((o) => o.triggered),
        date,
      ).toHaveLength(1);
      expect(outcomes.filter((o) => o.duplicate)).toHaveLength(0);
      const gate = await readGate(ctx, 2, date);
      expect(gate).toMatchObject({ triggered: true, missing: [], unpublished: false });
    }

    const messages = await received(ROUNDS);
    const perDate = new Map<string, number>();
    for (const m of messages) {
      const date = m.attributes.game_date!;
      perDate.set(date, (perDate.get(date) ?? 0) + 1);
    }
    expect(dates.map((d) => perDate.get(d) ?? 0)).toEqual(dates.map(() => 1));
    expect(messages[0]!.attributes.idempotency_key).toMatch(/^corr-.*:phase3-trigger:/);
  }, 600_000);

  it('triggers once when force-complete races late real reports, and retrigger refuses a published gate', async () => {
    const names = expectedProcessors(ctx.config, 3);
    const received = await captureTopic(backends, 'phase4-trigger');
    await recordReport(ctx, 3, DATE, {
      processor: names[0]!,
      status: 'success',
      correlationId: 'corr-race',
      recordCount: 1,
      entitiesChanged: [],
    });
    const late = names.slice(1);
    const results = await Promise.all([
      forceComplete(ctx, 3, DATE, late, { reason: 'drill', publish: true }),
      ...late.map((processor) =>
        recordReport(ctx, 3, DATE, {
          processor,
          status: 'success',
          correlationId: 'corr-race',
          recordCount: 1,
          entitiesChanged: [],
        }),
      ),
    ]);
    expect(results.filter((r) => r.triggered)).toHaveLength(1);
    expect(await received(1)).toHaveLength(1);
    await expect(retrigger(ctx, 3, DATE)).rejects.toBeInstanceOf(Refusal);
  }, 300_000);
});
