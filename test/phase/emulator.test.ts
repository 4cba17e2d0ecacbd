import { describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/lib/config.js';
import { planPhaseRun, sendPhaseRun } from '../../src/lib/phase/index.js';
import { RUN_HISTORY_COLUMNS } from '../../src/lib/schema.js';
import { captureTopic, gcpAdapter, gcpProfile, gcpHosts } from '../harness/backends.js';
import { DATE } from './fixtures.js';

const adapter = gcpAdapter();

describe.skipIf(!adapter.enabled)('phase run on the Pub/Sub emulator', () => {
  it('publishes the trigger with game_date, correlation_id and the idempotency key as attributes', async () => {
    const backends = await adapter.open();
    try {
      // The harness opened the backends on a project of their own; the profile here only
      // supplies the trigger settings (Pub/Sub delivery, deadlines).
      const config = {
        ...loadConfig({ env: {}, cwd: '/' }),
        profileName: 'emulator' as const,
        profile: { ...gcpProfile(gcpHosts()!), projectId: 'phase-emulator-test' },
      };
      const ctx = { config, backends, actor: 'tester@test' };
      await backends.warehouse.ensureTable(config.tables.runHistory, RUN_HISTORY_COLUMNS);
      const read = await captureTopic(backends, 'phase2-trigger');

      const plan = await planPhaseRun(ctx, { phase: 2, gameDate: DATE, correlationId: 'emu-1' });
      const sent = await sendPhaseRun(ctx, plan);
      expect(sent).toMatchObject({ via: 'pubsub', target: 'phase2-trigger' });

      const [message] = await read(1);
      expect(message!.attributes).toEqual({
        game_date: DATE,
        correlation_id: 'emu-1',
        idempotency_key: 'emu-1:phase2-trigger:2026-01-15',
      });
      expect(message!.data).toMatchObject({
        game_date: DATE,
        correlation_id: 'emu-1',
        is_full_batch: true,
      });
    } finally {
      await backends.close();
    }
  });
});
