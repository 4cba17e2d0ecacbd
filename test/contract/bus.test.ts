/**
 * The Bus port against every adapter: the embedded topic log, and Pub/Sub on its emulator.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Backends, OutgoingMessage } from '../../src/lib/backends/ports.js';
import { adapters, captureTopic, uniqueName } from '../harness/backends.js';

function requests(count: number): OutgoingMessage[] {
  return Array.from({ length: count }, (_, i) => {
    const player = `player${String(i).padStart(3, '0')}`;
    return {
      data: { game_date: '2026-12-01', correlation_id: 'corr-1', player_lookup: player },
      attributes: {
        game_date: '2026-12-01',
        correlation_id: 'corr-1',
        idempotency_key: `corr-1:prediction-request:2026-12-01:${player}`,
      },
    };
  });
}

for (const adapter of adapters()) {
  describe.skipIf(!adapter.enabled)(`Bus on ${adapter.name}`, () => {
    let backends: Backends;

    beforeAll(async () => {
      backends = await adapter.open();
    });
    afterAll(async () => {
      await backends?.close();
    });

    it('publishes 250 messages in batches and returns one outcome with a distinct id per message', async () => {
      const topic = uniqueName('prediction-request');
      await backends.bus.ensureTopic(topic);
      const outcomes = await backends.bus.publish(topic, requests(250));
      expect(outcomes).toHaveLength(250);
      const ids = outcomes.map((outcome) => (outcome.ok ? outcome.messageId : null));
      expect(ids.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
      expect(new Set(ids).size).toBe(250);
    });

    it('delivers each message data and attributes intact', async () => {
      const topic = uniqueName('phase5-trigger');
      const read = await captureTopic(backends, topic);
      const sent = requests(5);
      await backends.bus.publish(topic, sent);
      const received = await read(5);
      const byKey = (m: { attributes: Record<string, string> }) => m.attributes.idempotency_key;
      expect(received.map(byKey).sort()).toEqual(sent.map(byKey).sort());
      for (const message of sent) {
        const match = received.find((m) => byKey(m) === byKey(message));
        expect(match?.data).toEqual(message.data);
        expect(match?.attributes).toEqual(message.attributes);
      }
    });

    it('publishes nothing and returns no outcomes for an empty list', async () => {
      const topic = uniqueName('phase4-trigger');
      await backends.bus.ensureTopic(topic);
      expect(await backends.bus.publish(topic, [])).toEqual([]);
    });

    it('accepts ensureTopic on a topic that already exists', async () => {
      const topic = uniqueName('phase3-trigger');
      await backends.bus.ensureTopic(topic);
      await expect(backends.bus.ensureTopic(topic)).resolves.toBeUndefined();
    });
  });
}
