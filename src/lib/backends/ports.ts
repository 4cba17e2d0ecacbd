/**
 * The four ports that the domain code in src/lib sees. Adapters (local DuckDB, Google Cloud)
 * implement them; nothing outside src/lib/backends knows which one is in use.
 */

// ---------------------------------------------------------------------------------------------
// Documents (Firestore's model: collections of documents holding nested maps)

export type DocData = { [field: string]: unknown };

/** Placeholders resolved by the backend when the write commits. */
export const ServerTimestamp: unique symbol = Symbol.for('pipectl.serverTimestamp');
export const DeleteField: unique symbol = Symbol.for('pipectl.deleteField');
export type ServerTimestamp = typeof ServerTimestamp;
export type DeleteField = typeof DeleteField;

export interface DocSnapshot {
  /** Full path, for example `phase3_completion/2026-12-01`. */
  readonly path: string;
  readonly id: string;
  readonly exists: boolean;
  /** Present when `exists`; timestamps come back as `Date`. */
  readonly data: DocData | undefined;
  /** When the document was last written, by the backend's clock. */
  readonly updateTime: Date | undefined;
}

export interface SetOptions {
  /** Merge nested maps into the stored document instead of replacing it. */
  merge?: boolean;
}

/** Reads and writes inside one transaction. All reads must come before any write. */
export interface DocTransaction {
  get(path: string): Promise<DocSnapshot>;
  /** Fails the transaction with PreconditionFailed('already-exists') if the document exists. */
  create(path: string, data: DocData): void;
  set(path: string, data: DocData, options?: SetOptions): void;
  /**
   * Changes fields of an existing document; keys may be dotted field paths (`a.b`).
   * Fails with PreconditionFailed('not-found') if the document is missing.
   */
  update(path: string, data: DocData): void;
  delete(path: string): void;
}

export interface ListOptions {
  limit?: number;
  descending?: boolean;
}

export interface TransactionOptions {
  /** How many times to re-run the function when another writer got there first. */
  maxAttempts?: number;
}

export interface Documents {
  get(path: string): Promise<DocSnapshot>;
  create(path: string, data: DocData): Promise<void>;
  set(path: string, data: DocData, options?: SetOptions): Promise<void>;
  update(path: string, data: DocData): Promise<void>;
  delete(path: string): Promise<void>;
  /** Documents directly inside a collection, ordered by id (newest first with `descending`). */
  list(collectionPath: string, options?: ListOptions): Promise<DocSnapshot[]>;
  /**
   * Runs `fn` as a serializable read-modify-write: if any document it read changed before
   * the commit, the writes are discarded and `fn` runs again with fresh reads.
   */
  transaction<T>(fn: (tx: DocTransaction) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** The backend's clock. Leases and staleness are judged by it, never by the local clock. */
  serverTime(): Promise<Date>;
}

// ---------------------------------------------------------------------------------------------
// Warehouse (BigQuery standard SQL, restricted to what DuckDB also runs)

export type ScalarType = 'STRING' | 'INT64' | 'FLOAT64' | 'BOOL' | 'DATE' | 'TIMESTAMP';

/** A query parameter with an explicit type: needed for NULL, DATE and arrays. */
export interface TypedParam {
  readonly type: ScalarType;
  readonly array?: boolean;
  readonly value: unknown;
}

export type ParamValue = string | number | boolean | Date | null | string[] | TypedParam;
export type Params = Record<string, ParamValue>;

/**
 * A row as the domain sees it: DATE as `YYYY-MM-DD`, TIMESTAMP as `Date`, INT64 and FLOAT64
 * as `number` (NaN survives), BOOL as `boolean`, NULL as `null`.
 */
export type Row = Record<string, unknown>;

export interface ColumnDef {
  name: string;
  type: ScalarType;
  /** REPEATED in BigQuery, a list in DuckDB. */
  array?: boolean;
}

export interface QueryOptions {
  /** Deadline for this query; the adapter's default applies otherwise. */
  timeoutMs?: number;
}

export interface Warehouse {
  /** Runs one statement with named `@parameters`; values never enter the SQL text. */
  query<T extends Row = Row>(sql: string, params?: Params, options?: QueryOptions): Promise<T[]>;
  /** Appends rows to `dataset.table`. */
  insert(table: string, rows: Row[], columns: ColumnDef[]): Promise<void>;
  /** Creates `dataset.table` (and its dataset) when missing. */
  ensureTable(table: string, columns: ColumnDef[]): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Bus (Pub/Sub)

export interface OutgoingMessage {
  data: Record<string, unknown>;
  attributes: Record<string, string>;
}

export type PublishOutcome = { ok: true; messageId: string } | { ok: false; error: string };

export interface Bus {
  /**
   * Publishes messages to one topic in batches. Returns one outcome per message, in order, so
   * a partial failure is visible per message rather than only in logs.
   */
  publish(topic: string, messages: OutgoingMessage[]): Promise<PublishOutcome[]>;
  /** Creates the topic when missing (the emulator and the sandbox start empty). */
  ensureTopic(topic: string): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Endpoints (Cloud Run services called with a Google ID token)

export interface EndpointResponse {
  status: number;
  body: unknown;
}

export interface Endpoints {
  /** POSTs JSON to `url`, authenticated for the service that owns it. */
  post(
    url: string,
    body: Record<string, unknown>,
    options?: { timeoutMs?: number },
  ): Promise<EndpointResponse>;
}

// ---------------------------------------------------------------------------------------------

export interface PingResult {
  backend: 'documents' | 'warehouse' | 'bus' | 'endpoints';
  target: string;
}

export interface Backends {
  readonly kind: 'local' | 'gcp';
  readonly documents: Documents;
  readonly warehouse: Warehouse;
  readonly bus: Bus;
  readonly endpoints: Endpoints;
  /** One cheap round trip per backend, for `preflight`. Throws Unavailable on failure. */
  ping(backend: PingResult['backend']): Promise<string>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Parameter helpers: `param.date('2026-12-01')`, `param.null('STRING')`.

export const param = {
  date: (value: string | null): TypedParam => ({ type: 'DATE', value }),
  timestamp: (value: Date | null): TypedParam => ({ type: 'TIMESTAMP', value }),
  int: (value: number | null): TypedParam => ({ type: 'INT64', value }),
  float: (value: number | null): TypedParam => ({ type: 'FLOAT64', value }),
  string: (value: string | null): TypedParam => ({ type: 'STRING', value }),
  bool: (value: boolean | null): TypedParam => ({ type: 'BOOL', value }),
  null: (type: ScalarType): TypedParam => ({ type, value: null }),
  strings: (value: string[]): TypedParam => ({ type: 'STRING', array: true, value }),
};

/** Gives every parameter an explicit type, inferring it from plain JavaScript values. */
export function typeParam(name: string, value: ParamValue): TypedParam {
  if (value !== null && typeof value === 'object' && 'type' in value && !Array.isArray(value)) {
    return value;
  }
  if (value === null) {
    throw new TypeError(`Parameter @${name} is null: give it a type with param.null('STRING')`);
  }
  if (Array.isArray(value)) return { type: 'STRING', array: true, value };
  if (value instanceof Date) return { type: 'TIMESTAMP', value };
  switch (typeof value) {
    case 'string':
      return { type: 'STRING', value };
    case 'boolean':
      return { type: 'BOOL', value };
    case 'number':
      return { type: Number.isInteger(value) ? 'INT64' : 'FLOAT64', value };
    default:
      throw new TypeError(`Parameter @${name} has an unsupported value`);
  }
}
