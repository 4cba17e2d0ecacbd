/**
 * Documents in the embedded file. The file has one connection per process and only one
 * process can hold it, so a transaction that keeps the connection from its first read to its
 * commit is serializable by construction: writers racing on one document queue rather than
 * conflict and retry. Each write also bumps a version drawn from one sequence, which tells two
 * states of a document apart even when a document is deleted and recreated.
 */

import { TIMESTAMP, timestampValue, type DuckDBConnection } from '@duckdb/node-api';

import { PreconditionFailed } from '../../errors.js';
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
import { LocalDatabase } from './database.js';
import { splitDocPath, splitCollectionPath } from '../paths.js';

type Write =
  | { kind: 'create'; path: string; data: DocData }
  | { kind: 'set'; path: string; data: DocData; merge: boolean }
  | { kind: 'update'; path: string; data: DocData }
  | { kind: 'delete'; path: string };

interface Stored {
  data: DocData;
  version: number;
  updateTime: Date;
}

export class LocalDocuments implements Documents {
  constructor(private readonly db: LocalDatabase) {}

  async get(path: string): Promise<DocSnapshot> {
    splitDocPath(path);
    const stored = await this.db.use((c) => readStored(c, path));
    return snapshot(path, stored);
  }

  create(path: string, data: DocData): Promise<void> {
    return this.commit([{ kind: 'create', path, data }]);
  }

  set(path: string, data: DocData, options: SetOptions = {}): Promise<void> {
    return this.commit([{ kind: 'set', path, data, merge: options.merge ?? false }]);
  }

  update(path: string, data: DocData): Promise<void> {
    return this.commit([{ kind: 'update', path, data }]);
  }

  delete(path: string): Promise<void> {
    return this.commit([{ kind: 'delete', path }]);
  }

  async list(collectionPath: string, options: ListOptions = {}): Promise<DocSnapshot[]> {
    splitCollectionPath(collectionPath);
    const limit = options.limit ?? 100_000;
    // The direction is a keyword, not a value: it is chosen here, never taken from input.
    const order = options.descending ? 'DESC' : 'ASC';
    const rows = await this.db.use(async (c) => {
      const reader = await c.runAndReadAll(
        `SELECT path, data, version, update_time FROM _pipectl.documents
         WHERE collection = $collection ORDER BY id ${order} LIMIT $limit`,
        { collection: collectionPath, limit },
      );
      return reader.getRowObjectsJS();
    });
    return rows.map((row) =>
      snapshot(String(row.path), {
        data: decode(String(row.data)),
        version: Number(row.version),
        updateTime: row.update_time as Date,
      }),
    );
  }

  /**
   * A transaction holds the file's only connection from its first read to its commit. While
   * it does, no other process can open the file and no other statement of this process runs,
   * so the reads and writes are serializable without retries: racing writers queue instead of
   * conflicting, which keeps many simultaneous reports on one gate cheap.
   */
  async transaction<T>(
    fn: (tx: DocTransaction) => Promise<T>,
    _options: TransactionOptions = {},
  ): Promise<T> {
    return this.db.atomic(async (c) => {
      const tx = new LocalTransaction(this.db);
      const result = await fn(tx);
      const now = new Date();
      for (const write of tx.writes) await applyWrite(c, write, now);
      return result;
    });
  }

  async serverTime(): Promise<Date> {
    return new Date();
  }

  /** Applies writes atomically. */
  private commit(writes: Write[]): Promise<void> {
    return this.db.atomic(async (c) => {
      const now = new Date();
      for (const write of writes) await applyWrite(c, write, now);
    });
  }
}

class LocalTransaction implements DocTransaction {
  readonly writes: Write[] = [];

  constructor(private readonly db: LocalDatabase) {}

  async get(path: string): Promise<DocSnapshot> {
    if (this.writes.length > 0) throw new TypeError('A transaction must read before it writes');
    splitDocPath(path);
    // Through `use`, which inside the transaction queues on the transaction's connection.
    return snapshot(path, await this.db.use((c) => readStored(c, path)));
  }

  create(path: string, data: DocData): void {
    this.writes.push({ kind: 'create', path, data });
  }

  set(path: string, data: DocData, options: SetOptions = {}): void {
    this.writes.push({ kind: 'set', path, data, merge: options.merge ?? false });
  }

  update(path: string, data: DocData): void {
    this.writes.push({ kind: 'update', path, data });
  }

  delete(path: string): void {
    this.writes.push({ kind: 'delete', path });
  }
}

async function readStored(c: DuckDBConnection, path: string): Promise<Stored | undefined> {
  const reader = await c.runAndReadAll(
    'SELECT data, version, update_time FROM _pipectl.documents WHERE path = $path',
    { path },
  );
  const row = reader.getRowObjectsJS()[0];
  if (!row) return undefined;
  return {
    data: decode(String(row.data)),
    version: Number(row.version),
    updateTime: row.update_time as Date,
  };
}

async function applyWrite(c: DuckDBConnection, write: Write, now: Date): Promise<void> {
  const { collection, id } = splitDocPath(write.path);
  const current = await readStored(c, write.path);

  if (write.kind === 'delete') {
    await c.run('DELETE FROM _pipectl.documents WHERE path = $path', { path: write.path });
    return;
  }
  if (write.kind === 'create' && current) {
    throw new PreconditionFailed(`Document ${write.path} already exists`, 'already-exists');
  }
  if (write.kind === 'update' && !current) {
    throw new PreconditionFailed(`Document ${write.path} does not exist`, 'not-found');
  }

  let data: DocData;
  if (write.kind === 'update') data = applyFieldPaths(current!.data, write.data, now);
  else if (write.kind === 'set' && write.merge && current)
    data = mergeInto(current.data, write.data, now);
  else data = resolveSentinels(write.data, now);

  await c.run(
    `INSERT OR REPLACE INTO _pipectl.documents (path, collection, id, data, version, update_time)
     VALUES ($path, $collection, $id, $data, nextval('_pipectl.version_seq'), $now)`,
    {
      path: write.path,
      collection,
      id,
      data: encode(data),
      now: timestampValue(BigInt(now.getTime()) * 1000n),
    },
    { now: TIMESTAMP },
  );
}

/** Deep merge as Firestore's `set(..., {merge: true})`: nested maps merge, the rest replaces. */
function mergeInto(base: DocData, patch: DocData, now: Date): DocData {
  const out: DocData = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (value === DeleteField) delete out[key];
    else if (isMap(value) && isMap(out[key])) out[key] = mergeInto(out[key] as DocData, value, now);
    else out[key] = resolveSentinels(value, now);
  }
  return out;
}

/** `update` semantics: keys are dotted field paths; each replaces the value at its path. */
function applyFieldPaths(base: DocData, patch: DocData, now: Date): DocData {
  const out: DocData = structuredClone(base);
  for (const [fieldPath, value] of Object.entries(patch)) {
    const parts = fieldPath.split('.');
    let target: DocData = out;
    for (const part of parts.slice(0, -1)) {
      if (!isMap(target[part])) target[part] = {};
      target = target[part] as DocData;
    }
    const last = parts[parts.length - 1]!;
    if (value === DeleteField) delete target[last];
    else target[last] = resolveSentinels(value, now);
  }
  return out;
}

function resolveSentinels<T>(value: T, now: Date): T {
  if ((value as unknown) === ServerTimestamp) return new Date(now) as T;
  if (Array.isArray(value)) return value.map((v) => resolveSentinels(v, now)) as T;
  if (isMap(value)) {
    const out: DocData = {};
    for (const [k, v] of Object.entries(value))
      if (v !== DeleteField) out[k] = resolveSentinels(v, now);
    return out as T;
  }
  return value;
}

function isMap(value: unknown): value is DocData {
  return (
    value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date)
  );
}

function snapshot(path: string, stored: Stored | undefined): DocSnapshot {
  const { id } = splitDocPath(path);
  return {
    path,
    id,
    exists: stored !== undefined,
    data: stored?.data,
    updateTime: stored?.updateTime,
  };
}

// Dates and non-finite numbers do not survive JSON on their own; tag them.
function encode(data: DocData): string {
  return JSON.stringify(data, function (key, value: unknown) {
    const raw = (this as Record<string, unknown>)[key];
    if (raw instanceof Date) return { $ts: raw.toISOString() };
    if (typeof value === 'number' && !Number.isFinite(value)) return { $num: String(value) };
    return value;
  });
}

function decode(text: string): DocData {
  return JSON.parse(text, (_key, value: unknown) => {
    if (isMap(value) && typeof value.$ts === 'string' && Object.keys(value).length === 1) {
      return new Date(value.$ts);
    }
    if (isMap(value) && typeof value.$num === 'string' && Object.keys(value).length === 1) {
      return Number(value.$num);
    }
    return value;
  }) as DocData;
}
