/**
 * The Documents port, proved the same way against every adapter: the embedded DuckDB backend
 * always, and Firestore on its emulator when the emulator runs.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  DeleteField,
  ServerTimestamp,
  type Backends,
  type Documents,
} from '../../src/lib/backends/ports.js';
import { PreconditionFailed, Refusal } from '../../src/lib/errors.js';
import { adapters } from '../harness/backends.js';

for (const adapter of adapters()) {
  describe.skipIf(!adapter.enabled)(`Documents on ${adapter.name}`, () => {
    let backends: Backends;
    let docs: Documents;

    beforeAll(async () => {
      backends = await adapter.open();
      docs = backends.documents;
    });
    afterAll(async () => {
      await backends?.close();
    });

    it('reports a missing document as not existing, with no data', async () => {
      const snap = await docs.get('phase3_completion/1999-01-01');
      expect(snap).toMatchObject({ exists: false, data: undefined, id: '1999-01-01' });
    });

    it('reads back what create wrote, at a nested document path', async () => {
      const path = 'predictions/2026-12-01/republished/lebronjames';
      await docs.create(path, { attempt: 1, message_id: 'm-1', tags: ['a', 'b'], ok: true });
      const snap = await docs.get(path);
      expect(snap.exists).toBe(true);
      expect(snap.path).toBe(path);
      expect(snap.id).toBe('lebronjames');
      expect(snap.data).toEqual({ attempt: 1, message_id: 'm-1', tags: ['a', 'b'], ok: true });
      expect(snap.updateTime).toBeInstanceOf(Date);
    });

    it('refuses create on an existing document with PreconditionFailed(already-exists)', async () => {
      const path = 'coordinator_lock/2026-12-02';
      await docs.create(path, { holder: 'first' });
      const error = await docs.create(path, { holder: 'second' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PreconditionFailed);
      expect((error as PreconditionFailed).reason).toBe('already-exists');
      expect((error as PreconditionFailed).exitCode).toBe(1);
      expect((await docs.get(path)).data).toEqual({ holder: 'first' });
    });

    it('refuses update of a missing document with PreconditionFailed(not-found) and creates nothing', async () => {
      const path = 'predictions/2026-12-03';
      const error = await docs.update(path, { status: 'complete' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PreconditionFailed);
      expect((error as PreconditionFailed).reason).toBe('not-found');
      expect((await docs.get(path)).exists).toBe(false);
    });

    it('updates one nested field by dotted path and leaves its siblings', async () => {
      const path = 'phase3_completion/2026-12-04';
      await docs.set(path, { proc_a: { status: 'success', record_count: 10 }, _triggered: false });
      await docs.update(path, { 'proc_a.status': 'failed' });
      expect((await docs.get(path)).data).toEqual({
        proc_a: { status: 'failed', record_count: 10 },
        _triggered: false,
      });
    });

    it('merges nested maps with set({merge: true}) and replaces without it', async () => {
      const path = 'phase4_completion/2026-12-05';
      await docs.set(path, { proc_a: { status: 'success', record_count: 1 }, keep: 'me' });
      await docs.set(
        path,
        { proc_a: { record_count: 2 }, proc_b: { status: 'success' } },
        {
          merge: true,
        },
      );
      expect((await docs.get(path)).data).toEqual({
        proc_a: { status: 'success', record_count: 2 },
        proc_b: { status: 'success' },
        keep: 'me',
      });

      await docs.set(path, { only: 'this' });
      expect((await docs.get(path)).data).toEqual({ only: 'this' });
    });

    it('removes fields with DeleteField, by update and inside a merged nested map', async () => {
      const path = 'phase2_completion/2026-12-06';
      await docs.set(path, { a: 1, b: 2, nested: { x: 1, y: 2 } });
      await docs.update(path, { a: DeleteField });
      await docs.set(path, { nested: { x: DeleteField } }, { merge: true });
      expect((await docs.get(path)).data).toEqual({ b: 2, nested: { y: 2 } });
    });

    it('stores ServerTimestamp as the backend clock and reads it back as a Date, nested too', async () => {
      const path = 'predictions/2026-12-07';
      const before = await docs.serverTime();
      await docs.set(path, {
        started_at: ServerTimestamp,
        proc: { completed_at: ServerTimestamp },
      });
      const after = await docs.serverTime();
      const data = (await docs.get(path)).data as {
        started_at: unknown;
        proc: { completed_at: unknown };
      };
      expect(data.started_at).toBeInstanceOf(Date);
      expect(data.proc.completed_at).toBeInstanceOf(Date);
      const at = (data.started_at as Date).getTime();
      expect(at).toBeGreaterThanOrEqual(before.getTime());
      expect(at).toBeLessThanOrEqual(after.getTime());
    });

    it('reads back a JS Date written as a field value as a Date', async () => {
      const path = 'coordinator_lock/2026-12-08';
      const expires = new Date('2026-12-08T10:00:00.000Z');
      await docs.set(path, { expires_at: expires, history: [{ at: expires }] });
      const data = (await docs.get(path)).data as { expires_at: Date; history: { at: Date }[] };
      expect(data.expires_at).toEqual(expires);
      expect(data.history[0]?.at).toEqual(expires);
    });

    it('deletes a document, and deleting a missing one is not an error', async () => {
      const path = 'predictions/2026-12-09';
      await docs.set(path, { status: 'running' });
      await docs.delete(path);
      await docs.delete(path);
      expect((await docs.get(path)).exists).toBe(false);
    });

    it('lists only the direct children of a collection, ordered by id either way, honouring limit', async () => {
      for (const id of ['2026-12-12', '2026-12-10', '2026-12-11']) {
        await docs.set(`ops_audit_list/${id}`, { id });
      }
      await docs.set('ops_audit_list/2026-12-10/child/x', { nested: true });
      const listed = await docs.list('ops_audit_list');
      expect(listed.map((snap) => snap.id)).toEqual(['2026-12-10', '2026-12-11', '2026-12-12']);
      expect(listed[0]?.data).toEqual({ id: '2026-12-10' });
      const limited = await docs.list('ops_audit_list', { limit: 2 });
      expect(limited.map((snap) => snap.id)).toEqual(['2026-12-10', '2026-12-11']);
      const newest = await docs.list('ops_audit_list', { limit: 2, descending: true });
      expect(newest.map((snap) => snap.id)).toEqual(['2026-12-12', '2026-12-11']);
    });

    it(`loses no increment when ${adapter.contention.writers} transactions update one document at once, and exactly one sees the final count`, async () => {
      const path = 'phase3_completion/2026-12-13';
      const { writers, maxAttempts } = adapter.contention;
      await docs.set(path, { count: 0 });
      const seen = await Promise.all(
        Array.from({ length: writers }, (_, i) =>
          docs.transaction(
            async (tx) => {
              const snap = await tx.get(path);
              const count = Number((snap.data as { count: number }).count) + 1;
              tx.update(path, { count, [`proc_${i}`]: { status: 'success' } });
              return count;
            },
            { maxAttempts },
          ),
        ),
      );
      const data = (await docs.get(path)).data as Record<string, unknown>;
      expect(data.count).toBe(writers);
      expect(Object.keys(data).filter((key) => key.startsWith('proc_'))).toHaveLength(writers);
      // Every committed transaction saw a different count: this is what makes "the last
      // processor triggers the next phase" fire exactly once.
      expect(new Set(seen).size).toBe(writers);
      expect(seen.filter((count) => count === writers)).toHaveLength(1);
    });

    it('fails a transaction that creates an existing document, and applies none of its writes', async () => {
      const existing = 'coordinator_lock/2026-12-14';
      const other = 'predictions/2026-12-14';
      await docs.create(existing, { holder: 'a' });
      const error = await docs
        .transaction(async (tx) => {
          await tx.get(existing);
          tx.set(other, { status: 'running' });
          tx.create(existing, { holder: 'b' });
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PreconditionFailed);
      expect((error as PreconditionFailed).reason).toBe('already-exists');
      expect((await docs.get(other)).exists).toBe(false);
      expect((await docs.get(existing)).data).toEqual({ holder: 'a' });
    });

    it('passes an error thrown inside a transaction through unchanged and writes nothing', async () => {
      const path = 'predictions/2026-12-15';
      const refusal = new Refusal('batch is active');
      const error = await docs
        .transaction(async (tx) => {
          await tx.get(path);
          tx.set(path, { status: 'running' });
          throw refusal;
        })
        .catch((e: unknown) => e);
      expect(error).toBe(refusal);
      expect((await docs.get(path)).exists).toBe(false);
    });

    it('reads the server clock close to this machine and never backwards', async () => {
      const first = await docs.serverTime();
      const second = await docs.serverTime();
      expect(Math.abs(first.getTime() - Date.now())).toBeLessThan(60_000);
      expect(second.getTime()).toBeGreaterThanOrEqual(first.getTime());
    });
  });
}
