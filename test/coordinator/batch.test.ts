import { afterEach, describe, expect, it } from 'vitest';

import {
  acquireLease,
  buildPredictionRequest,
  readBatch,
  readLease,
  recordPrediction,
  releaseLease,
  renewLease,
  startBatch,
} from '../../src/lib/coordinator/index.js';
import { loadConfig } from '../../src/lib/config.js';
import type { LibContext } from '../../src/lib/context.js';
import { adapters } from '../harness/backends.js';
import { AWKWARD_PLAYERS, DATE, players } from './fixtures.js';

// The same rules on the embedded backend and on the official Firestore emulator.
describe.each(adapters())('$name', (adapter) => {
  const opened: LibContext[] = [];
  async function context(): Promise<LibContext> {
    const backends = await adapter.open();
    const ctx = { config: loadConfig({ env: {}, cwd: '/' }), backends, actor: 'test@host' };
    opened.push(ctx);
    return ctx;
  }
  afterEach(async () => {
    for (const ctx of opened.splice(0)) await ctx.backends.close();
  });
  const racers = Math.min(10, adapter.contention.writers);

  describe.skipIf(!adapter.enabled)('batch state', () => {
    it('skips a start while the batch for the date is running, and starts exactly one of many racing starts', async () => {
      const ctx = await context();
      const decisions = await Promise.all(
        Array.from({ length: racers }, (_, i) =>
          startBatch(ctx, DATE, { players: players(5), correlationId: 'c1', instance: `i${i}` }),
        ),
      );
      const started = decisions.filter((d) => d.started);
      expect(started).toHaveLength(1);
      const skipped = decisions.filter((d) => !d.started);
      expect(skipped.every((d) => !d.started && /is running/.test(d.reason))).toBe(true);

      const state = await readBatch(ctx, DATE);
      expect(state).toMatchObject({ exists: true, status: 'running', expected: 5, completed: 0 });
      expect(state.batchId).toBe(started[0]!.batchId);
    });

    it('counts a player once when its completion is recorded twice, and completes the batch at expected', async () => {
      const ctx = await context();
      const names = ['a', 'b', 'c'];
      await startBatch(ctx, DATE, { players: names, correlationId: 'c1', instance: 'i1' });

      const first = await recordPrediction(ctx, DATE, 'a');
      const again = await recordPrediction(ctx, DATE, 'a');
      expect(first).toMatchObject({ counted: true, completed: 1 });
      expect(again).toMatchObject({ counted: false, completed: 1 });

      // Redelivered reports arriving all at once still count each player once.
      const burst = await Promise.all(
        ['b', 'c', 'b', 'c', 'b', 'c'].map((p) => recordPrediction(ctx, DATE, p)),
      );
      expect(burst.filter((o) => o.counted)).toHaveLength(2);
      expect(await readBatch(ctx, DATE)).toMatchObject({ completed: 3, status: 'complete' });

      const skipped = await startBatch(ctx, DATE, {
        players: names,
        correlationId: 'c2',
        instance: 'backup',
      });
      expect(skipped).toMatchObject({ started: false });
    });

    it('counts players named with quotes, semicolons and non-ASCII letters like any other', async () => {
      const ctx = await context();
      await startBatch(ctx, DATE, { players: AWKWARD_PLAYERS, correlationId: 'c', instance: 'i' });
      for (const player of AWKWARD_PLAYERS) {
        expect((await recordPrediction(ctx, DATE, player)).counted).toBe(true);
        expect((await recordPrediction(ctx, DATE, player)).counted).toBe(false);
      }
      expect(await readBatch(ctx, DATE)).toMatchObject({
        completed: AWKWARD_PLAYERS.length,
        status: 'complete',
      });
      const message = buildPredictionRequest(ctx.config, {
        gameDate: DATE,
        player: AWKWARD_PLAYERS[1]!,
        correlationId: 'c',
        batchId: 'b',
      });
      expect(message.attributes.idempotency_key).toBe(
        `c:prediction-request:${DATE}:${AWKWARD_PLAYERS[1]}`,
      );
      expect(message.data).toMatchObject({ player_lookup: AWKWARD_PLAYERS[1], attempt: 1 });
    });
  });

  describe.skipIf(!adapter.enabled)('coordinator lease', () => {
    it('lets exactly one of many simultaneous contenders acquire the lease', async () => {
      const ctx = await context();
      const results = await Promise.all(
        Array.from({ length: adapter.contention.writers }, (_, i) =>
          acquireLease(ctx, DATE, `coordinator-${i}`, 60),
        ),
      );
      const winners = results.filter((r) => r.acquired);
      expect(winners).toHaveLength(1);
      const lease = await readLease(ctx, DATE);
      expect(lease).toMatchObject({ holder: winners[0]!.lease.holder, expired: false });
      expect(results.every((r) => r.lease.holder === winners[0]!.lease.holder)).toBe(true);
    });

    it('releases only for its holder unless forced, and hands an expired lease to the next contender', async () => {
      const ctx = await context();
      await acquireLease(ctx, DATE, 'one', 60);
      expect(await releaseLease(ctx, DATE, 'two')).toMatchObject({
        released: false,
        reason: 'held',
      });
      expect((await renewLease(ctx, DATE, 'two')).renewed).toBe(false);
      expect((await renewLease(ctx, DATE, 'one', 120)).renewed).toBe(true);
      expect(await releaseLease(ctx, DATE, 'two', { force: true })).toMatchObject({
        released: true,
      });
      expect(await readLease(ctx, DATE)).toBeNull();

      await acquireLease(ctx, DATE, 'short', 1);
      expect((await acquireLease(ctx, DATE, 'next', 60)).acquired).toBe(false);
      await new Promise((r) => setTimeout(r, 1100));
      expect((await readLease(ctx, DATE))?.expired).toBe(true);
      expect((await acquireLease(ctx, DATE, 'next', 60)).acquired).toBe(true);
    });
  });
});
