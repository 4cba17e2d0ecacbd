/**
 * A loopback server that answers BigQuery's REST query API from a DuckDB warehouse, so the
 * real `@google-cloud/bigquery` client (and the gcp adapter on top of it) can be tested with
 * no cloud. It serves what the client uses for standard-SQL queries:
 *
 *   POST /bigquery/v2/projects/{p}/queries            jobs.query
 *   GET  /bigquery/v2/projects/{p}/queries/{jobId}    jobs.getQueryResults
 *   POST /bigquery/v2/projects/{p}/jobs               jobs.insert (query jobs)
 *   GET  /bigquery/v2/projects/{p}/jobs/{jobId}       jobs.get
 *
 * Answers have BigQuery's shape: values as strings, TIMESTAMP as integer microseconds when
 * `formatOptions.useInt64Timestamp` is set, errors as `{error: {code, message, errors}}`.
 * Every project shares the one DuckDB file; tests isolate themselves by dataset name.
 */

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { LocalWarehouse } from '../../src/lib/backends/local/warehouse.js';
import type { Params, Row, ScalarType, TypedParam } from '../../src/lib/backends/ports.js';

export interface BigQueryServer {
  /** `http://127.0.0.1:PORT`, the profile's `bigqueryEndpoint`. */
  url: string;
  /** Statements served so far, for tests that check what the client sent. */
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  body: unknown;
}

interface ResultColumn {
  name: string;
  type: ScalarType;
  array?: boolean;
}

interface StoredJob {
  projectId: string;
  jobId: string;
  sql: string;
  columns: ResultColumn[];
  rows: Row[];
  statementType: 'SELECT' | 'DML' | 'DDL';
  affected: number;
  useInt64Timestamp: boolean;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const PREFIX = /^\/bigquery\/v2\/projects\/([^/]+)\/(queries|jobs)(?:\/([^/?]+))?$/;

export async function startBigQueryServer(options: {
  path: string;
  port?: number;
}): Promise<BigQueryServer> {
  const warehouse = LocalWarehouse.open(options.path);
  const jobs = new Map<string, StoredJob>();
  const requests: RecordedRequest[] = [];

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => sendError(res, error));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = PREFIX.exec(url.pathname);
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    requests.push({ method: req.method ?? '', path: url.pathname, body });
    if (!match) throw new ApiError(404, 'notFound', `No such endpoint: ${url.pathname}`);
    const [, projectId = '', kind, jobId] = match;

    if (req.method === 'POST' && kind === 'queries' && jobId === undefined) {
      const request = asObject(body, 'request body');
      const job = await run(projectId, request, request);
      return send(res, 200, queryResponse(job));
    }
    if (req.method === 'POST' && kind === 'jobs' && jobId === undefined) {
      const request = asObject(body, 'request body');
      const configuration = asObject(request.configuration, 'configuration');
      const query = asObject(configuration.query, 'configuration.query');
      const reference = isObject(request.jobReference) ? request.jobReference : {};
      const job = await run(projectId, query, {
        jobId: reference.jobId,
        formatOptions: { useInt64Timestamp: true },
      });
      return send(res, 200, jobResource(job, configuration));
    }
    if (req.method === 'GET' && jobId !== undefined) {
      const job = jobs.get(jobId);
      if (!job) throw new ApiError(404, 'notFound', `Not found: Job ${projectId}:${jobId}`);
      if (kind === 'jobs') return send(res, 200, jobResource(job, {}));
      const useInt64 = url.searchParams.get('formatOptions.useInt64Timestamp') === 'true';
      return send(res, 200, queryResponse({ ...job, useInt64Timestamp: useInt64 }));
    }
    throw new ApiError(405, 'notImplemented', `${req.method} ${url.pathname} is not served`);
  }

  async function run(
    projectId: string,
    query: Record<string, unknown>,
    request: Record<string, unknown>,
  ): Promise<StoredJob> {
    if (typeof query.query !== 'string') throw new ApiError(400, 'invalid', 'query is required');
    if (query.useLegacySql === true) {
      throw new ApiError(400, 'invalid', 'Legacy SQL is not served; set useLegacySql: false');
    }
    if (
      query.parameterMode !== undefined &&
      String(query.parameterMode).toUpperCase() !== 'NAMED'
    ) {
      throw new ApiError(400, 'invalid', 'Only named parameters are served');
    }
    const params = parseParameters(query.queryParameters);
    const sql = query.query;
    const statementType = classify(sql);
    let result: { columns: ResultColumn[]; rows: Row[] };
    try {
      result = await warehouse.queryWithSchema(sql, params);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const missing = /does not exist|not found/i.test(message);
      throw new ApiError(missing ? 404 : 400, missing ? 'notFound' : 'invalidQuery', message);
    }
    const affected =
      statementType === 'DML' ? Number(Object.values(result.rows[0] ?? {})[0] ?? 0) : 0;
    const formatOptions = isObject(request.formatOptions) ? request.formatOptions : {};
    const job: StoredJob = {
      projectId,
      jobId: typeof request.jobId === 'string' ? request.jobId : `job_${randomUUID()}`,
      sql,
      columns: statementType === 'SELECT' ? result.columns : [],
      rows: statementType === 'SELECT' ? result.rows : [],
      statementType,
      affected,
      useInt64Timestamp: formatOptions.useInt64Timestamp === true,
    };
    jobs.set(job.jobId, job);
    return job;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Requests

function parseParameters(raw: unknown): Params {
  const params: Params = {};
  if (raw === undefined) return params;
  if (!Array.isArray(raw)) throw new ApiError(400, 'invalid', 'queryParameters must be a list');
  for (const item of raw) {
    const parameter = asObject(item, 'query parameter');
    if (typeof parameter.name !== 'string') {
      throw new ApiError(400, 'invalid', 'Positional parameters are not served; name them');
    }
    const type = asObject(parameter.parameterType, `type of @${parameter.name}`);
    const value = isObject(parameter.parameterValue) ? parameter.parameterValue : {};
    params[parameter.name] = parseParameter(parameter.name, type, value);
  }
  return params;
}

function parseParameter(
  name: string,
  type: Record<string, unknown>,
  value: Record<string, unknown>,
): TypedParam {
  if (type.type === 'ARRAY') {
    const element = scalarType(name, asObject(type.arrayType, `element type of @${name}`).type);
    const items = Array.isArray(value.arrayValues) ? value.arrayValues : [];
    return {
      type: element,
      array: true,
      value: items.map((item) => parseScalar(name, element, isObject(item) ? item.value : null)),
    };
  }
  const scalar = scalarType(name, type.type);
  return { type: scalar, value: parseScalar(name, scalar, value.value) };
}

function scalarType(name: string, type: unknown): ScalarType {
  switch (type) {
    case 'STRING':
      return 'STRING';
    case 'INT64':
    case 'INTEGER':
      return 'INT64';
    case 'FLOAT64':
    case 'FLOAT':
      return 'FLOAT64';
    case 'BOOL':
    case 'BOOLEAN':
      return 'BOOL';
    case 'DATE':
      return 'DATE';
    case 'TIMESTAMP':
      return 'TIMESTAMP';
    default:
      throw new ApiError(
        400,
        'invalidQuery',
        `Parameter @${name} has unsupported type ${String(type)}`,
      );
  }
}

function parseScalar(name: string, type: ScalarType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  const text = String(value);
  switch (type) {
    case 'INT64': {
      if (!/^-?\d+$/.test(text)) throw badValue(name, type, text);
      return Number(text);
    }
    case 'FLOAT64': {
      const number = Number(text);
      if (Number.isNaN(number) && text !== 'NaN') throw badValue(name, type, text);
      return number;
    }
    case 'BOOL':
      if (text !== 'true' && text !== 'false') throw badValue(name, type, text);
      return text === 'true';
    case 'DATE':
      if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) throw badValue(name, type, text);
      return text;
    case 'TIMESTAMP': {
      // BigQuery accepts `2026-12-01 12:00:00+00` as well as ISO 8601.
      const date = new Date(text.replace(' ', 'T').replace(/([+-]\d{2})$/, '$1:00'));
      if (Number.isNaN(date.getTime())) throw badValue(name, type, text);
      return date;
    }
    case 'STRING':
      return text;
  }
}

function badValue(name: string, type: ScalarType, text: string): ApiError {
  return new ApiError(400, 'invalidQuery', `Invalid ${type} value for @${name}: ${text}`);
}

function classify(sql: string): StoredJob['statementType'] {
  const keyword = /^\s*(?:(?:--[^\n]*\n|\/\*[\s\S]*?\*\/)\s*)*([A-Za-z]+)/.exec(sql)?.[1];
  switch (keyword?.toUpperCase()) {
    case 'INSERT':
    case 'UPDATE':
    case 'DELETE':
    case 'MERGE':
      return 'DML';
    case 'CREATE':
    case 'DROP':
    case 'ALTER':
    case 'TRUNCATE':
      return 'DDL';
    default:
      return 'SELECT';
  }
}

// ---------------------------------------------------------------------------------------------
// Answers

const REST_TYPES: Record<ScalarType, string> = {
  STRING: 'STRING',
  INT64: 'INTEGER',
  FLOAT64: 'FLOAT',
  BOOL: 'BOOLEAN',
  DATE: 'DATE',
  TIMESTAMP: 'TIMESTAMP',
};

function queryResponse(job: StoredJob): Record<string, unknown> {
  return {
    kind: 'bigquery#queryResponse',
    jobReference: { projectId: job.projectId, jobId: job.jobId, location: 'US' },
    jobComplete: true,
    cacheHit: false,
    schema: {
      fields: job.columns.map((column) => ({
        name: column.name,
        type: REST_TYPES[column.type],
        mode: column.array ? 'REPEATED' : 'NULLABLE',
      })),
    },
    rows: job.rows.map((row) => ({
      f: job.columns.map((column) => ({ v: encodeCell(row[column.name], column, job) })),
    })),
    totalRows: String(job.rows.length),
    ...(job.statementType === 'DML' ? { numDmlAffectedRows: String(job.affected) } : {}),
  };
}

function jobResource(job: StoredJob, configuration: Record<string, unknown>) {
  return {
    kind: 'bigquery#job',
    id: `${job.projectId}:US.${job.jobId}`,
    jobReference: { projectId: job.projectId, jobId: job.jobId, location: 'US' },
    configuration,
    status: { state: 'DONE' },
    statistics: {
      query: {
        statementType: job.statementType === 'SELECT' ? 'SELECT' : job.statementType,
        ...(job.statementType === 'DML' ? { numDmlAffectedRows: String(job.affected) } : {}),
      },
    },
  };
}

function encodeCell(value: unknown, column: ResultColumn, job: StoredJob): unknown {
  if (value === null || value === undefined) return null;
  if (column.array) {
    const items = Array.isArray(value) ? value : [value];
    return items.map((item) => ({ v: encodeScalar(item, column.type, job) }));
  }
  return encodeScalar(value, column.type, job);
}

function encodeScalar(value: unknown, type: ScalarType, job: StoredJob): string | null {
  if (value === null || value === undefined) return null;
  if (type === 'TIMESTAMP') {
    const ms = value instanceof Date ? value.getTime() : new Date(String(value)).getTime();
    return job.useInt64Timestamp ? String(BigInt(ms) * 1000n) : String(ms / 1000);
  }
  if (type === 'BOOL') return value === true || value === 'true' ? 'true' : 'false';
  return String(value);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendError(res: ServerResponse, error: unknown): void {
  const api =
    error instanceof ApiError
      ? error
      : new ApiError(500, 'backendError', error instanceof Error ? error.message : String(error));
  send(res, api.status, {
    error: {
      code: api.status,
      message: api.message,
      errors: [{ message: api.message, domain: 'global', reason: api.reason }],
      status:
        api.status === 404 ? 'NOT_FOUND' : api.status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT',
    },
  });
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ApiError(400, 'parseError', 'The request body is not JSON');
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (!isObject(value)) throw new ApiError(400, 'invalid', `${what} must be an object`);
  return value;
}
