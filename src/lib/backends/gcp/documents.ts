/**
 * The Documents port on Firestore.
 *
 * The client module is handed in by `openGcpBackends`, which imports it lazily; this file
 * only imports its types, so loading it costs nothing.
 */

import type {
  DocumentData,
  DocumentReference,
  DocumentSnapshot,
  Firestore,
  Transaction,
  UpdateData,
} from '@google-cloud/firestore';

import { OperationFailed, PreconditionFailed, UserError } from '../../errors.js';
import type { ResiliencePolicy } from '../../resilience.js';
import {
  DeleteField,
  ServerTimestamp,
  type DocData,
  type DocSnapshot,
  type DocTransaction,
  type Documents,
  type ListOptions,
  type SetOptions,
  type TransactionOptions,
} from '../ports.js';
import { classifyGrpc, type Target } from './common.js';

export type FirestoreModule = typeof import('@google-cloud/firestore');

/**
 * Firestore's client gives up after 5 attempts; on a hot document (21 processors reporting
 * to one completion document at once) that loses reports, so allow many more.
 */
export const DEFAULT_TRANSACTION_ATTEMPTS = 30;

const CLOCK_COLLECTION = '_pipectl_clock';

export class FirestoreDocuments implements Documents {
  /** Client calls still running, including ones abandoned at their deadline. */
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(
    private readonly db: Firestore,
    private readonly sdk: FirestoreModule,
    private readonly policy: ResiliencePolicy,
    private readonly target: Target,
    private readonly timeoutMs: number,
  ) {}

  async get(path: string): Promise<DocSnapshot> {
    const ref = this.doc(path);
    return this.call(path, async () => this.snapshot(await ref.get()));
  }

  async create(path: string, data: DocData): Promise<void> {
    const ref = this.doc(path);
    const encoded = this.encode(data);
    // Not retried: if a first attempt committed but its answer was lost, a second attempt
    // would report "already exists" for a document this very call created.
    await this.call(path, () => ref.create(encoded), false);
  }

  async set(path: string, data: DocData, options: SetOptions = {}): Promise<void> {
    const ref = this.doc(path);
    const encoded = this.encode(data);
    await this.call(path, () => ref.set(encoded, { merge: options.merge === true }));
  }

  async update(path: string, data: DocData): Promise<void> {
    const ref = this.doc(path);
    const encoded = this.encode(data) as UpdateData<DocumentData>;
    await this.call(path, () => ref.update(encoded));
  }

  async delete(path: string): Promise<void> {
    const ref = this.doc(path);
    await this.call(path, () => ref.delete());
  }

  async list(collectionPath: string, options: ListOptions = {}): Promise<DocSnapshot[]> {
    const byId = this.collection(collectionPath).orderBy(this.sdk.FieldPath.documentId());
    if (!options.descending) {
      const query = options.limit === undefined ? byId : byId.limit(options.limit);
      const result = await this.call(collectionPath, () => query.get());
      return result.docs.map((snap) => this.snapshot(snap));
    }
    const descending = this.collection(collectionPath).orderBy(
      this.sdk.FieldPath.documentId(),
      'desc',
    );
    const query = options.limit === undefined ? descending : descending.limit(options.limit);
    try {
      const result = await this.call(collectionPath, () => query.get());
      return result.docs.map((snap) => this.snapshot(snap));
    } catch (error) {
      const refusedScan =
        error instanceof OperationFailed &&
        !(error instanceof PreconditionFailed) &&
        /descending/i.test(error.message);
      if (!refusedScan) throw error;
      // Limitation: the Firestore emulator refuses descending scans by document id
      // ("does not support descending key scans"); there, read ascending and reverse,
      // which costs a read of the whole collection.
      const result = await this.call(collectionPath, () => byId.get());
      const newest = result.docs.reverse().slice(0, options.limit);
      return newest.map((snap) => this.snapshot(snap));
    }
  }

  async transaction<T>(
    fn: (tx: DocTransaction) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    const maxAttempts = options.maxAttempts ?? DEFAULT_TRANSACTION_ATTEMPTS;
    // Firestore re-runs the function itself when it loses a race, so the policy must not
    // retry on top of it; the deadline grows with the attempts a contended document needs.
    return this.policy.execute(
      async () => {
        try {
          return await this.track(
            this.db.runTransaction((tx) => fn(this.wrapTransaction(tx)), { maxAttempts }),
          );
        } catch (error) {
          throw classifyGrpc(error, this.target, 'A document written in the transaction');
        }
      },
      { idempotent: false, timeoutMs: this.timeoutMs * Math.max(1, maxAttempts) },
    );
  }

  async serverTime(): Promise<Date> {
    // Deleting a document that was never written still commits, and the commit time is the
    // server's clock: one round trip and nothing left behind.
    const ref = this.db.collection(CLOCK_COLLECTION).doc();
    const result = await this.call(CLOCK_COLLECTION, () => ref.delete());
    return result.writeTime.toDate();
  }

  private wrapTransaction(tx: Transaction): DocTransaction {
    return {
      get: async (path) => this.snapshot(await tx.get(this.doc(path))),
      create: (path, data) => void tx.create(this.doc(path), this.encode(data)),
      set: (path, data, options = {}) =>
        void tx.set(this.doc(path), this.encode(data), { merge: options.merge === true }),
      update: (path, data) =>
        void tx.update(this.doc(path), this.encode(data) as UpdateData<DocumentData>),
      delete: (path) => void tx.delete(this.doc(path)),
    };
  }

  /**
   * Closes the client once no call is running. The Firestore client keeps retrying an
   * unreachable host long after our deadline gave up on it, and terminating it underneath
   * such a call raises an unhandled rejection inside the client; so terminate waits for
   * them, in the background after a short grace.
   */
  async close(graceMs = 1_000): Promise<void> {
    const settled = Promise.allSettled([...this.inflight]);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([settled, grace]);
    clearTimeout(timer);
    if (this.inflight.size === 0) return this.db.terminate();
    // Limitation: with calls still retrying an unreachable host, the process stays alive
    // until the client gives up on them (up to about a minute) unless it exits explicitly.
    void settled.then(() => this.db.terminate()).catch(() => undefined);
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inflight.add(work);
    const forget = () => void this.inflight.delete(work);
    work.then(forget, forget);
    return work;
  }

  private call<T>(subject: string, fn: () => Promise<T>, idempotent = true): Promise<T> {
    return this.policy.execute(
      async () => {
        try {
          return await this.track(fn());
        } catch (error) {
          throw classifyGrpc(error, this.target, `Document ${subject}`);
        }
      },
      { idempotent },
    );
  }

  private doc(path: string): DocumentReference {
    const segments = splitPath(path);
    if (segments.length % 2 !== 0) {
      throw new UserError(`"${path}" is not a document path`, {
        hint: 'A document path has an even number of segments, such as `predictions/2026-12-01`.',
      });
    }
    return this.db.doc(segments.join('/'));
  }

  private collection(path: string) {
    const segments = splitPath(path);
    if (segments.length % 2 !== 1) {
      throw new UserError(`"${path}" is not a collection path`, {
        hint: 'A collection path has an odd number of segments, such as `phase3_completion`.',
      });
    }
    return this.db.collection(segments.join('/'));
  }

  private snapshot(snap: DocumentSnapshot): DocSnapshot {
    const data = snap.data();
    return {
      path: snap.ref.path,
      id: snap.id,
      exists: snap.exists,
      data: data === undefined ? undefined : (this.decode(data) as DocData),
      updateTime: snap.updateTime?.toDate(),
    };
  }

  /** Port sentinels become Firestore field transforms, at any depth. */
  private encode(data: DocData): DocumentData {
    return this.encodeValue(data) as DocumentData;
  }

  private encodeValue(value: unknown): unknown {
    if (value === ServerTimestamp) return this.sdk.FieldValue.serverTimestamp();
    if (value === DeleteField) return this.sdk.FieldValue.delete();
    if (Array.isArray(value)) return value.map((item) => this.encodeValue(item));
    if (isPlainObject(value)) {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) out[key] = this.encodeValue(item);
      return out;
    }
    return value;
  }

  /** Firestore Timestamps become Dates, at any depth, so callers never see a client type. */
  private decode(value: unknown): unknown {
    if (value instanceof this.sdk.Timestamp) return value.toDate();
    if (value instanceof this.sdk.DocumentReference) return value.path;
    if (Array.isArray(value)) return value.map((item) => this.decode(item));
    if (isPlainObject(value)) {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) out[key] = this.decode(item);
      return out;
    }
    return value;
  }
}

function splitPath(path: string): string[] {
  const segments = path.split('/');
  if (segments.some((segment) => segment === '')) {
    throw new UserError(`"${path}" has an empty path segment`, {
      hint: 'Paths look like `phase3_completion/2026-12-01`, with no leading or double "/".',
    });
  }
  return segments;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
