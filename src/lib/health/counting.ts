/**
 * A warehouse and a document store that count their calls and, once a backend is found
 * unreachable, fail every later call at once with the same error. Health checks share a
 * handful of batched queries; the count proves it, and the short-circuit keeps a down
 * warehouse from costing one timeout per check before the alert goes out.
 */

import type {
  Backends,
  ColumnDef,
  DocSnapshot,
  Documents,
  Params,
  QueryOptions,
  Row,
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

/** Read-only view of the document store with the same short-circuit. */
export class GuardedDocuments {
  reads = 0;
  down: Unavailable | undefined;

  constructor(private readonly inner: Documents) {}

  get(path: string): Promise<DocSnapshot> {
    return this.guard(() => this.inner.get(path));
  }

  serverTime(): Promise<Date> {
    return this.guard(() => this.inner.serverTime());
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

/** The same backends with the warehouse swapped for a counting one (methods stay bound). */
export function withWarehouse(backends: Backends, warehouse: Warehouse): Backends {
  return {
    kind: backends.kind,
    documents: backends.documents,
    warehouse,
    bus: backends.bus,
    endpoints: backends.endpoints,
    ping: (backend) => backends.ping(backend),
    close: () => backends.close(),
  };
}
