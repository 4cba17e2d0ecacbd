/**
 * The Warehouse port on BigQuery.
 *
 * Every value travels as a typed named parameter (`queryParameters`), never in the SQL text.
 * Rows come back in the port's shape whatever the client's own wrappers are: DATE as
 * `YYYY-MM-DD`, TIMESTAMP as `Date`, INT64 and FLOAT64 as numbers (NaN and Infinity intact).
 */

import type { BigQuery, Query } from '@google-cloud/bigquery';

import { OperationFailed, PipectlError, Unavailable, UserError } from '../../errors.js';
import { isConnectionError, type ResiliencePolicy } from '../../resilience.js';
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
import { type Target } from './common.js';

export type BigQueryModule = typeof import('@google-cloud/bigquery');

/** BigQuery allows 10,000 parameters per query; stay well inside it. */
const MAX_PARAMS_PER_INSERT = 4_000;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DATE_TEXT = /^\d{4}-\d{2}-\d{2}$/;

type ProvidedType = string | string[];

export class BigQueryWarehouse implements Warehouse {
  constructor(
    private readonly client: BigQuery,
    private readonly sdk: BigQueryModule,
    private readonly policy: ResiliencePolicy,
    private readonly target: Target,
    private readonly timeoutMs: number,
    private readonly location: string | undefined,
  ) {}

  async query<T extends Row = Row>(
    sql: string,
    params: Params = {},
    options: QueryOptions = {},
  ): Promise<T[]> {
    const rows = await this.run(sql, encodeParams(params, this.sdk), options.timeoutMs, true);
    return rows.map((row) => this.normalise(row) as T);
  }

  async insert(table: string, rows: Row[], columns: ColumnDef[]): Promise<void> {
    const name = tableName(table);
    if (rows.length === 0) return;
    if (columns.length === 0) throw new UserError(`Insert into ${table} names no columns`);
    columns.forEach((column) => columnName(column.name));

    const perChunk = Math.max(1, Math.floor(MAX_PARAMS_PER_INSERT / columns.length));
    for (let start = 0; start < rows.length; start += perChunk) {
      const chunk = rows.slice(start, start + perChunk);
      const params: Params = {};
      const tuples = chunk.map((row, r) => {
        const markers = columns.map((column, c) => {
          const key = `r${r}_c${c}`;
          params[key] = {
            type: column.type,
            array: column.array === true,
            value: row[column.name] ?? null,
          };
          return `@${key}`;
        });
        return `(${markers.join(', ')})`;
      });
      const list = columns.map((column) => `\`${column.name}\``).join(', ');
      const sql = `INSERT INTO \`${name}\` (${list}) VALUES ${tuples.join(', ')}`;
      // Not retried: a DML insert whose answer was lost may have committed, and a repeat
      // would duplicate its rows.
      await this.run(sql, encodeParams(params, this.sdk), undefined, false);
    }
  }

  async ensureTable(table: string, columns: ColumnDef[]): Promise<void> {
    const name = tableName(table);
    const [dataset] = name.split('.');
    const definitions = columns.map((column) => {
      const type = column.array ? `ARRAY<${column.type}>` : column.type;
      return `\`${columnName(column.name)}\` ${type}`;
    });
    await this.run(`CREATE SCHEMA IF NOT EXISTS \`${dataset}\``, emptyParams(), undefined, true);
    await this.run(
      `CREATE TABLE IF NOT EXISTS \`${name}\` (${definitions.join(', ')})`,
      emptyParams(),
      undefined,
      true,
    );
  }

  async ping(): Promise<void> {
    await this.run('SELECT 1 AS ok', emptyParams(), undefined, true);
  }

  private async run(
    sql: string,
    params: EncodedParams,
    timeoutMs: number | undefined,
    idempotent: boolean,
  ): Promise<unknown[]> {
    const deadline = timeoutMs ?? this.timeoutMs;
    const request: Query = {
      query: sql,
      useLegacySql: false,
      ...(this.location === undefined ? {} : { location: this.location }),
      ...(Object.keys(params.values).length === 0
        ? {}
        : { params: params.values, types: params.types, parameterMode: 'named' as const }),
    };
    return this.policy.execute(
      async () => {
        try {
          const [rows] = await this.client.query(request);
          return rows as unknown[];
        } catch (error) {
          throw classifyBigQuery(error, this.target, sql);
        }
      },
      { idempotent, timeoutMs: deadline },
    );
  }

  private normalise(value: unknown): unknown {
    if (value === null || value === undefined) return null;
    const sdk = this.sdk;
    if (value instanceof sdk.BigQueryDate) return String(value.value);
    if (value instanceof sdk.BigQueryTimestamp) return new Date(value.value);
    if (value instanceof sdk.BigQueryDatetime || value instanceof sdk.BigQueryTime) {
      return String(value.value);
    }
    if (value instanceof sdk.BigQueryInt) return Number(value.value);
    if (value instanceof sdk.Geography) return String(value.value);
    if (Array.isArray(value)) return value.map((item) => this.normalise(item));
    if (Buffer.isBuffer(value) || value instanceof Date) return value;
    if (typeof value === 'object') {
      // NUMERIC arrives as a big-decimal object; anything else object-like is a STRUCT.
      if (value.constructor?.name === 'Big') return Number(String(value));
      const out: Row = {};
      for (const [key, item] of Object.entries(value)) out[key] = this.normalise(item);
      return out;
    }
    return value;
  }
}

interface EncodedParams {
  values: Record<string, unknown>;
  types: Record<string, ProvidedType>;
}

function emptyParams(): EncodedParams {
  return { values: {}, types: {} };
}

/**
 * Every parameter is sent with its type, so NULL, DATE and arrays are unambiguous. Numbers go
 * as decimal text: JSON has no NaN or Infinity, and INT64 may exceed a double.
 */
export function encodeParams(params: Params, sdk: BigQueryModule): EncodedParams {
  const out = emptyParams();
  for (const [name, raw] of Object.entries(params)) {
    if (!IDENTIFIER.test(name)) throw new UserError(`Parameter name @${name} is not valid`);
    const typed = typeParam(name, raw);
    out.types[name] = typed.array ? [typed.type] : typed.type;
    out.values[name] = encodeValue(name, typed, sdk);
  }
  return out;
}

function encodeValue(name: string, typed: TypedParam, sdk: BigQueryModule): unknown {
  if (typed.array) {
    if (typed.value === null || typed.value === undefined) return [];
    if (!Array.isArray(typed.value)) {
      throw new UserError(`Parameter @${name} must be a list of ${typed.type}`);
    }
    return typed.value.map((item: unknown) => encodeScalar(name, typed.type, item, sdk));
  }
  return encodeScalar(name, typed.type, typed.value, sdk);
}

function encodeScalar(
  name: string,
  type: ScalarType,
  value: unknown,
  sdk: BigQueryModule,
): unknown {
  if (value === null || value === undefined) return null;
  const wrong = () => new UserError(`Parameter @${name} is not a valid ${type}: ${String(value)}`);
  switch (type) {
    case 'STRING':
      if (typeof value !== 'string') throw wrong();
      return value;
    case 'BOOL':
      if (typeof value !== 'boolean') throw wrong();
      return value;
    case 'INT64':
      if (typeof value === 'bigint') return value.toString();
      if (typeof value !== 'number' || !Number.isInteger(value)) throw wrong();
      return String(value);
    case 'FLOAT64':
      if (typeof value !== 'number') throw wrong();
      return String(value);
    case 'DATE':
      // The client reads DATE and TIMESTAMP values out of its own wrapper types.
      if (typeof value !== 'string' || !DATE_TEXT.test(value)) throw wrong();
      return sdk.BigQuery.date(value);
    case 'TIMESTAMP': {
      const date =
        value instanceof Date ? value : typeof value === 'string' ? new Date(value) : null;
      if (date === null || Number.isNaN(date.getTime())) throw wrong();
      return sdk.BigQuery.timestamp(date);
    }
  }
}

function tableName(table: string): string {
  const parts = table.split('.');
  if (parts.length !== 2 || !parts.every((part) => IDENTIFIER.test(part))) {
    throw new UserError(`"${table}" is not a table name`, {
      hint: 'Name tables as `dataset.table`, letters, digits and "_" only.',
    });
  }
  return table;
}

function columnName(name: string): string {
  if (!IDENTIFIER.test(name)) throw new UserError(`"${name}" is not a column name`);
  return name;
}

interface ApiErrorShape {
  code?: unknown;
  message?: unknown;
  errors?: { reason?: unknown; message?: unknown }[];
}

const TRANSIENT_REASONS = new Set([
  'backendError',
  'internalError',
  'rateLimitExceeded',
  'jobBackendError',
  'jobInternalError',
]);

/** Maps a BigQuery REST failure (HTTP status plus `errors[].reason`) to the error family. */
export function classifyBigQuery(error: unknown, target: Target, sql: string): unknown {
  if (error instanceof PipectlError) return error;
  if (isConnectionError(error)) {
    return new Unavailable(`${target.name} is unreachable`, { hint: target.hint, cause: error });
  }
  if (error === null || typeof error !== 'object') return error;
  const shape = error as ApiErrorShape;
  const status = typeof shape.code === 'number' ? shape.code : undefined;
  const reasons = (shape.errors ?? []).map((item) => String(item.reason ?? ''));
  const message = typeof shape.message === 'string' ? shape.message : String(error);
  if ((status !== undefined && status >= 500) || reasons.some((r) => TRANSIENT_REASONS.has(r))) {
    return new Unavailable(`${target.name} failed for now: ${message}`, {
      hint: target.hint,
      cause: error,
    });
  }
  if (status === 401 || status === 403) {
    return new OperationFailed(`${target.name} refused the credentials: ${message}`, {
      hint: 'Run `gcloud auth application-default login`, or check the service account roles.',
      cause: error,
    });
  }
  if (status !== undefined) {
    const firstLine = sql.trim().split('\n')[0]?.slice(0, 80) ?? '';
    return new OperationFailed(`BigQuery rejected the statement: ${message}`, {
      hint: `Statement begins: ${firstLine}`,
      cause: error,
    });
  }
  return error;
}
