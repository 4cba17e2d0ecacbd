/**
 * A warehouse and a document store that count their calls and, once a backend is found
 * unreachable, fail every later call at once with the same error. Health checks share a
 * handful of batched queries; the count proves it, and the short-circuit keeps a down
 * warehouse from costing one timeout per check before the alert goes out.
 */

import type {
  Backends,
  ColumnDef,
  DocData,
  DocSnapshot,
  DocTransaction,
  Documents,
  Params,
  QueryOptions,
  Row,
  SetOptions,
  TransactionOptions,
  Warehouse,
} from '../backends/ports.js';
import { Unavailable } from '../errors.js';

export class CountingWarehouse implements Warehouse {
  queries = 0;
  down: Unavailable | undefined;

  constructor(private readonly inner: Warehouse) {}

  async query<T extends Row = Row>(sql: string, params?: Params, options?: QueryOptions) {
    if (this.down) throw this.down;
    this.queries += 1;
    try {
      return await this.inner.query<T>(sql, params, options);
    } catch (error) {
      if (error instanceof Unavailable) this.down = error;
      throw error;
    }
  }

  insert(table: string, rows: Row[], columns: ColumnDef[]): Promise<void> {
    return this.inner.insert(table, rows, columns);
  }

  ensureTable(table: string, columns: ColumnDef[]): Promise<void> {
    return this.inner.ensureTable(table, columns);
  }
}

/** The document store with the same short-circuit; health only reads, writes pass through. */
export class GuardedDocuments implements Documents {
  reads = 0;
  down: Unavailable | undefined;

  constructor(private readonly inner: Documents) {}

  get(path: string): Promise<DocSnapshot> {
    return this.guard(() => this.inner.get(path));
  }

  list(collectionPath: string, options?: { limit?: number }): Promise<DocSnapshot[]> {
    return this.guard(() => this.inner.list(collectionPath, options));
  }

  serverTime(): Promise<Date> {
    return this.guard(() => this.inner.serverTime());
  }

  create(path: string, data: DocData): Promise<void> {
    return this.guard(() => this.inner.create(path, data));
  }

  set(path: string, data: DocData, options?: SetOptions): Promise<void> {
    return this.guard(() => this.inner.set(path, data, options));
  }

  update(path: string, data: DocData): Promise<void> {
    return this.guard(() => this.inner.update(path, data));
  }

  delete(path: string): Promise<void> {
    return this.guard(() => this.inner.delete(path));
  }

  transaction<T>(fn: (tx: DocTransaction) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return this.guard(() => this.inner.transaction(fn, options));
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    if (this.down) throw this.down;
    this.reads += 1;
    try {
      return await fn();
    } catch (error) {
      if (error instanceof Unavailable) this.down = error;
      throw error;
    }
  }
}

/** The same backends with the stores swapped for guarded ones (methods stay bound). */
export function withStores(
  backends: Backends,
  warehouse: Warehouse,
  documents: Documents,
): Backends {
  return {
    kind: backends.kind,
    documents,
    warehouse,
    bus: backends.bus,
    endpoints: backends.endpoints,
    ping: (backend) => backends.ping(backend),
    close: () => backends.close(),
  };
}
