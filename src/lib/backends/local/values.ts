/**
 * Conversions between the port's plain values and DuckDB's typed values, in both directions.
 */

import {
  BIGINT,
  BOOLEAN,
  DATE,
  DOUBLE,
  DuckDBDateValue,
  DuckDBListValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBTypeId,
  LIST,
  TIMESTAMP,
  VARCHAR,
  dateValue,
  listValue,
  timestampValue,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';

import type { ScalarType, TypedParam } from '../ports.js';

const DUCK_TYPES: Record<ScalarType, DuckDBType> = {
  STRING: VARCHAR,
  INT64: BIGINT,
  FLOAT64: DOUBLE,
  BOOL: BOOLEAN,
  DATE: DATE,
  TIMESTAMP: TIMESTAMP,
};

export const DDL_TYPES: Record<ScalarType, string> = {
  STRING: 'VARCHAR',
  INT64: 'BIGINT',
  FLOAT64: 'DOUBLE',
  BOOL: 'BOOLEAN',
  DATE: 'DATE',
  TIMESTAMP: 'TIMESTAMP',
};

export function duckType(param: Pick<TypedParam, 'type' | 'array'>): DuckDBType {
  const scalar = DUCK_TYPES[param.type];
  return param.array ? LIST(scalar) : scalar;
}

export function toDuckValue(param: TypedParam, name: string): DuckDBValue {
  if (param.value === null || param.value === undefined) return null;
  if (param.array) {
    if (!Array.isArray(param.value)) throw new TypeError(`Parameter @${name} must be an array`);
    return listValue(
      param.value.map((item) => toDuckValue({ type: param.type, value: item }, name)),
    );
  }
  const value = param.value;
  switch (param.type) {
    case 'DATE':
      return dateFromIso(String(value), name);
    case 'TIMESTAMP': {
      const date = value instanceof Date ? value : new Date(String(value));
      if (Number.isNaN(date.getTime()))
        throw new TypeError(`Parameter @${name} is not a timestamp`);
      return timestampValue(BigInt(date.getTime()) * 1000n);
    }
    case 'INT64':
      return BigInt(Math.trunc(Number(value)));
    case 'FLOAT64':
      return Number(value);
    case 'BOOL':
      return Boolean(value);
    case 'STRING':
      return String(value);
  }
}

function dateFromIso(text: string, name: string): DuckDBDateValue {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) throw new TypeError(`Parameter @${name} is not a YYYY-MM-DD date`);
  return dateValue({ year: Number(match[1]), month: Number(match[2]), day: Number(match[3]) });
}

/** The BigQuery type a DuckDB column reports as, for schemas served over the REST API. */
export function scalarTypeOf(type: DuckDBType): { type: ScalarType; array: boolean } {
  if (type.typeId === DuckDBTypeId.LIST) {
    const child = (type as unknown as { valueType: DuckDBType }).valueType;
    return { type: scalarTypeOf(child).type, array: true };
  }
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return { type: 'BOOL', array: false };
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.UBIGINT:
      return { type: 'INT64', array: false };
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
    case DuckDBTypeId.DECIMAL:
      return { type: 'FLOAT64', array: false };
    case DuckDBTypeId.DATE:
      return { type: 'DATE', array: false };
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_TZ:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_NS:
      return { type: 'TIMESTAMP', array: false };
    default:
      return { type: 'STRING', array: false };
  }
}

/** A DuckDB value as the port's row value: DATE as text, TIMESTAMP as Date, integers as number. */
export function fromDuckValue(value: DuckDBValue): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') {
    return value;
  }
  if (value instanceof DuckDBDateValue) return value.toString();
  if (value instanceof DuckDBTimestampValue || value instanceof DuckDBTimestampTZValue) {
    return new Date(Number(value.micros / 1000n));
  }
  if (value instanceof DuckDBListValue) return value.items.map(fromDuckValue);
  if (typeof (value as { toDouble?: () => number }).toDouble === 'function') {
    return (value as { toDouble: () => number }).toDouble();
  }
  return String(value);
}
