/**
 * Row hashes for change detection. A processor hashes each output row; a re-run compares the
 * new hash with the stored one to find which entities changed. The hash must depend on every
 * meaningful value and on nothing else: key order, bookkeeping fields (`processed_at`, the hash
 * itself) and the JavaScript type used for a number must not move it.
 */

import { createHash } from 'node:crypto';

export const DEFAULT_EXCLUDED_FIELDS = ['data_hash', 'processed_at', 'created_at'];

export interface HashOptions {
  /** Fields left out of the hash; defaults to DEFAULT_EXCLUDED_FIELDS. */
  exclude?: readonly string[];
}

/** A hex SHA-256 (first 16 bytes) of the row's canonical form. */
export function rowHash(row: Record<string, unknown>, options: HashOptions = {}): string {
  const exclude = new Set(options.exclude ?? DEFAULT_EXCLUDED_FIELDS);
  // A NULL column, a field set to undefined and a field left out are the same stored row: a
  // writer that omits a NULL column must get the hash that `changes verify-hash` recomputes
  // from the row read back (where the column is present as null), or every stored hash would
  // look wrong. A value turning NULL still changes the hash: its key leaves the canonical form.
  const fields = Object.keys(row)
    .filter((key) => !exclude.has(key) && row[key] !== undefined && row[key] !== null)
    .sort();
  const canonical = fields.map((key) => `${JSON.stringify(key)}:${canonicalValue(row[key])}`);
  return createHash('sha256')
    .update(`{${canonical.join(',')}}`)
    .digest('hex')
    .slice(0, 32);
}

/**
 * Each value is tagged with its type so that the string "1" and the number 1, or NULL and
 * the string "null", never hash alike.
 */
function canonicalValue(value: unknown): string {
  if (value === null || value === undefined) return 'n';
  // An invalid Date has no ISO form (toISOString throws); it is still a value, not a crash.
  if (value instanceof Date)
    return Number.isNaN(value.getTime()) ? 't?' : `t${value.toISOString()}`;
  if (typeof value === 'number') return `f${String(value)}`;
  if (typeof value === 'bigint') return `f${value.toString()}`;
  if (typeof value === 'boolean') return value ? 'b1' : 'b0';
  if (typeof value === 'string') return `s${JSON.stringify(value)}`;
  if (Array.isArray(value)) return `[${value.map(canonicalValue).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.keys(value as object)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalValue((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return `s${JSON.stringify(String(value))}`;
}
