/**
 * Table and column names cannot be query parameters, so the few that enter SQL text here are
 * checked against the shape config validation already enforces before they are used.
 */

import { UserError } from '../errors.js';

const TABLE = /^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$/;
const COLUMN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `` `dataset.table` `` for a name that passed validation. */
export function tableRef(table: string): string {
  if (!TABLE.test(table)) throw new UserError(`"${table}" is not a dataset.table name`);
  return `\`${table}\``;
}

export function columnRef(column: string): string {
  if (!COLUMN.test(column)) throw new UserError(`"${column}" is not a column name`);
  return column;
}

/** A query against a table that was never created: the table holds no rows for any date. */
export function isMissingTable(error: unknown): boolean {
  const text = error instanceof Error ? `${error.message} ${String(error.cause ?? '')}` : '';
  return /does not exist|not found: table|Table with name .* does not exist/i.test(text);
}
