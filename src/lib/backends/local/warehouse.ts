/**
 * The embedded warehouse: BigQuery tables as DuckDB tables, one schema per dataset. Queries
 * arrive in the shared dialect and are rewritten (identifiers, `@name` markers), never
 * assembled from values.
 */

import { DuckDBDataChunk, type DuckDBAppender, type DuckDBConnection } from '@duckdb/node-api';

import { OperationFailed, UserError } from '../../errors.js';
import {
  typeParam,
  type ColumnDef,
  type Params,
  type QueryOptions,
  type Row,
  type ScalarType,
  type TypedParam,
  type Warehouse,
} from '../ports.js';
import { LocalDatabase } from './database.js';
import { quoteIdent, quoteTable, rewriteSql } from './sql.js';
import { DDL_TYPES, duckType, fromDuckValue, scalarTypeOf, toDuckValue } from './values.js';

export interface ResultColumn {
  name: string;
  type: ScalarType;
  array: boolean;
}

export interface QueryResult {
  columns: ResultColumn[];
  rows: Row[];
}

/** Above this many rows an insert goes through DuckDB's appender rather than INSERT. */
const APPENDER_THRESHOLD = 200;

export class LocalWarehouse implements Warehouse {
  constructor(private readonly db: LocalDatabase) {}

  static open(path: string): LocalWarehouse {
    return new LocalWarehouse(new LocalDatabase(path));
  }

  async query<T extends Row = Row>(
    sql: string,
    params: Params = {},
    _options?: QueryOptions,
  ): Promise<T[]> {
    return (await this.queryWithSchema(sql, params)).rows as T[];
  }

  async queryWithSchema(sql: string, params: Params = {}): Promise<QueryResult> {
    const { sql: duckSql, params: used } = rewriteSql(sql);
    const values: Record<string, ReturnType<typeof toDuckValue>> = {};
    const types: Record<string, ReturnType<typeof duckType>> = {};
    for (const name of new Set(used)) {
      if (!(name in params)) throw new UserError(`Query parameter @${name} has no value`);
      const typed: TypedParam = typeParam(name, params[name]!);
      values[name] = toDuckValue(typed, name);
      types[name] = duckType(typed);
    }

    return this.db.use(async (connection) => {
      try {
        const reader = await connection.runAndReadAll(duckSql, values, types);
        const names = reader.columnNames();
        const columns = reader.columnTypes().map((type, index) => ({
          name: names[index]!,
          ...scalarTypeOf(type),
        }));
        const rows = reader.getRows().map((cells) => {
          const row: Row = {};
          cells.forEach((cell, index) => (row[names[index]!] = fromDuckValue(cell)));
          return row;
        });
        return { columns, rows };
      } catch (error) {
        throw new OperationFailed(`Query failed: ${(error as Error).message}`, { cause: error });
      }
    });
  }

  async ensureTable(table: string, columns: ColumnDef[]): Promise<void> {
    const target = quoteTable(table);
    const body = columns
      .map((c) => `${quoteIdent(c.name)} ${DDL_TYPES[c.type]}${c.array ? '[]' : ''}`)
      .join(', ');
    await this.db.use(async (connection) => {
      await connection.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(target.schema)}`);
      await connection.run(`CREATE TABLE IF NOT EXISTS ${target.sql} (${body})`);
    });
  }

  async insert(table: string, rows: Row[], columns: ColumnDef[]): Promise<void> {
    if (rows.length === 0) return;
    const target = quoteTable(table);
    // One transaction: a failed insert leaves no partial rows behind.
    await this.db.atomic(async (connection) => {
      const tableColumns = await describe(connection, target.schema, target.name);
      if (tableColumns.length === 0) throw new UserError(`Table ${table} does not exist`);
      const byName = new Map(columns.map((c) => [c.name, c]));
      for (const name of byName.keys()) {
        if (!tableColumns.includes(name))
          throw new UserError(`Table ${table} has no column ${name}`);
      }
      if (rows.length >= APPENDER_THRESHOLD) {
        await appendRows(connection, target, byName, rows);
      } else {
        await insertRows(connection, target.sql, byName, rows);
      }
    });
  }
}

async function describe(
  connection: DuckDBConnection,
  schema: string,
  table: string,
): Promise<string[]> {
  const reader = await connection.runAndReadAll(
    `SELECT column_name FROM information_schema.columns
     WHERE table_schema = $schema AND table_name = $table ORDER BY ordinal_position`,
    { schema, table },
  );
  return reader.getRows().map((r) => String(r[0]));
}

async function insertRows(
  connection: DuckDBConnection,
  tableSql: string,
  columns: Map<string, ColumnDef>,
  rows: Row[],
): Promise<void> {
  const defs = [...columns.values()];
  const names = defs.map((c) => quoteIdent(c.name)).join(', ');
  const markers = defs.map((_, i) => `$c${i}`).join(', ');
  const types = Object.fromEntries(defs.map((c, i) => [`c${i}`, duckType(c)]));
  const prepared = await connection.prepare(
    `INSERT INTO ${tableSql} (${names}) VALUES (${markers})`,
  );
  try {
    for (const row of rows) {
      const values = Object.fromEntries(
        defs.map((c, i) => [
          `c${i}`,
          toDuckValue({ type: c.type, array: c.array, value: row[c.name] ?? null }, c.name),
        ]),
      );
      prepared.bind(values, types);
      await prepared.run();
    }
  } catch (error) {
    throw new OperationFailed(`Insert failed: ${(error as Error).message}`, { cause: error });
  }
}

/** Rows per data chunk: DuckDB's vector size, so each chunk fills one vector. */
const CHUNK_ROWS = 2048;

/**
 * Bulk load through DuckDB's appender, a column-wise data chunk at a time: about five times
 * faster than appending value by value, which matters for a season of sandbox history.
 */
async function appendRows(
  connection: DuckDBConnection,
  target: { schema: string; name: string; sql: string },
  columns: Map<string, ColumnDef>,
  rows: Row[],
): Promise<void> {
  const probe = await connection.runAndReadAll(`SELECT * FROM ${target.sql} LIMIT 0`);
  const names = probe.columnNames();
  const types = probe.columnTypes();
  const appender: DuckDBAppender = await connection.createAppender(target.name, target.schema);
  try {
    for (let start = 0; start < rows.length; start += CHUNK_ROWS) {
      const part = rows.slice(start, start + CHUNK_ROWS);
      const chunk = DuckDBDataChunk.create(types, part.length);
      chunk.setColumns(
        names.map((name) => {
          const def = columns.get(name);
          if (!def) return part.map(() => null);
          return part.map((row) =>
            toDuckValue({ type: def.type, array: def.array, value: row[name] ?? null }, name),
          );
        }),
      );
      appender.appendDataChunk(chunk);
    }
    appender.closeSync();
  } catch (error) {
    throw new OperationFailed(
      `Bulk insert into ${target.schema}.${target.name} failed: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
