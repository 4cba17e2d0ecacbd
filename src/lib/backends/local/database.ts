/**
 * One DuckDB file shared by every pipectl process on the machine. DuckDB lets only one process
 * hold a file at a time, so the file is opened late and closed as soon as no operation needs
 * it; a process that finds it held retries with backoff until its deadline. Within a process,
 * statements go through one connection, one at a time.
 */

import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

import { Unavailable } from '../../errors.js';

const SETUP = [
  `SET TimeZone = 'UTC'`,
  `CREATE TYPE IF NOT EXISTS FLOAT64 AS DOUBLE`,
  `CREATE OR REPLACE MACRO IS_NAN(x) AS isnan(x)`,
  `CREATE OR REPLACE MACRO SAFE_DIVIDE(a, b) AS CASE WHEN b = 0 THEN NULL ELSE a / b END`,
  `CREATE SCHEMA IF NOT EXISTS _pipectl`,
  `CREATE SEQUENCE IF NOT EXISTS _pipectl.version_seq`,
  `CREATE TABLE IF NOT EXISTS _pipectl.documents (
     path VARCHAR PRIMARY KEY,
     collection VARCHAR NOT NULL,
     id VARCHAR NOT NULL,
     data VARCHAR NOT NULL,
     version BIGINT NOT NULL,
     update_time TIMESTAMP NOT NULL)`,
  `CREATE SEQUENCE IF NOT EXISTS _pipectl.message_seq`,
  `CREATE TABLE IF NOT EXISTS _pipectl.messages (
     seq BIGINT PRIMARY KEY,
     message_id VARCHAR NOT NULL,
     topic VARCHAR NOT NULL,
     data VARCHAR NOT NULL,
     attributes VARCHAR NOT NULL,
     published_at TIMESTAMP NOT NULL,
     consumed_at TIMESTAMP,
     consumed_by VARCHAR)`,
];

export interface LocalDatabaseOptions {
  /** How long to wait for another process to release the file. */
  lockTimeoutMs?: number;
}

export class LocalDatabase {
  private instance: DuckDBInstance | undefined;
  private connection: DuckDBConnection | undefined;
  private opening: Promise<DuckDBConnection> | undefined;
  private users = 0;
  /** The connection owned by the current async call chain, and a queue for its nested calls. */
  private readonly owner = new AsyncLocalStorage<Owner>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly lockTimeoutMs: number;

  constructor(
    readonly path: string,
    options: LocalDatabaseOptions = {},
  ) {
    this.lockTimeoutMs = options.lockTimeoutMs ?? 30_000;
  }

  /**
   * Runs `fn` with exclusive use of the connection. The file stays open while any caller is
   * inside `use` or `hold`, and is closed right after the last one leaves.
   */
  async use<T>(fn: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    // Inside another `use` (a document transaction reading through the ports) the caller
    // already owns the connection; queueing behind itself would deadlock.
    const owned = this.owner.getStore();
    if (owned) return owned.nested(() => fn(owned.connection));
    return this.hold(() =>
      this.serial((connection) =>
        this.owner.run(new Owner(connection, false), () => fn(connection)),
      ),
    );
  }

  /**
   * Runs `fn` in one database transaction. Called inside another `atomic` (a message published
   * from within a document transaction), it joins the outer one: DuckDB has no nested
   * transactions, and the outer commit or rollback covers both.
   */
  async atomic<T>(fn: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const owned = this.owner.getStore();
    if (owned?.atomic) return owned.nested(() => fn(owned.connection));
    return this.use((connection) =>
      this.owner.run(new Owner(connection, true), async () => {
        await connection.run('BEGIN TRANSACTION');
        try {
          const result = await fn(connection);
          await connection.run('COMMIT');
          return result;
        } catch (error) {
          await connection.run('ROLLBACK');
          throw error;
        }
      }),
    );
  }

  /** Keeps the file open across many statements (a bulk load, a whole drill step). */
  async hold<T>(fn: () => Promise<T>): Promise<T> {
    this.users += 1;
    try {
      await this.connect();
      return await fn();
    } finally {
      this.users -= 1;
      if (this.users === 0) setImmediate(() => this.closeIfIdle());
    }
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    this.release();
  }

  private serial<T>(fn: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const run = this.queue.then(() => fn(this.connection!));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async connect(): Promise<DuckDBConnection> {
    if (this.connection) return this.connection;
    this.opening ??= this.openWithRetry().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async openWithRetry(): Promise<DuckDBConnection> {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    try {
      mkdirSync(dirname(this.path), { recursive: true });
    } catch (error) {
      throw new Unavailable(`Cannot create the folder for the sandbox file ${this.path}`, {
        cause: error,
        hint: 'Choose a sandbox path in a writable folder with --sandbox or PIPECTL_SANDBOX.',
      });
    }
    const deadline = Date.now() + this.lockTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        const instance = await DuckDBInstance.create(this.path);
        const connection = await instance.connect();
        for (const statement of SETUP) await connection.run(statement);
        this.instance = instance;
        this.connection = connection;
        return connection;
      } catch (error) {
        const message = (error as Error).message;
        if (!/Could not set lock|Conflicting lock/i.test(message)) {
          throw new Unavailable(`Cannot open the sandbox file ${this.path}: ${message}`, {
            cause: error,
          });
        }
        if (Date.now() >= deadline) {
          const holder = /PID (\d+)/.exec(message)?.[1];
          throw new Unavailable(
            `The sandbox file ${this.path} is held by another process` +
              `${holder ? ` (PID ${holder})` : ''} for more than ${this.lockTimeoutMs / 1000}s`,
            { hint: 'Wait for the other pipectl command to finish, or stop it, then retry.' },
          );
        }
        const backoff = Math.min(250, 5 * 2 ** Math.min(attempt, 6));
        await sleep(backoff / 2 + Math.random() * backoff);
      }
    }
  }

  private closeIfIdle(): void {
    if (this.users === 0 && !this.opening) this.release();
  }

  private release(): void {
    const { connection, instance } = this;
    this.connection = undefined;
    this.instance = undefined;
    connection?.closeSync();
    instance?.closeSync();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Calls made from inside a `use` share its connection. A connection runs one statement at a
 * time, so those nested calls (say, two reads awaited together inside a transaction) queue
 * among themselves.
 */
class Owner {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    readonly connection: DuckDBConnection,
    readonly atomic: boolean,
  ) {}

  nested<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn);
    this.tail = run.catch(() => undefined);
    return run;
  }
}
