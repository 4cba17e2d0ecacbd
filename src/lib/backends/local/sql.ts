/**
 * Rewrites the one SQL dialect pipectl speaks (BigQuery standard SQL, restricted to what DuckDB
 * also runs) into DuckDB's. Only identifiers, parameter markers and a few type spellings
 * change; values are never spliced into the text, they stay bound parameters.
 */

export interface RewrittenSql {
  sql: string;
  /** Parameter names in the order they appear (each may repeat). */
  params: string[];
}

/**
 * - `` `project.dataset.table` `` and `` `dataset.table` `` become `"dataset"."table"`
 *   (one DuckDB schema per dataset; the project is implied by the file);
 * - `@name` becomes `$name`;
 * - `ARRAY<T>` becomes `T[]`;
 * - `IN UNNEST(@list)` becomes `IN (SELECT UNNEST($list))`.
 * String literals and comments are copied untouched.
 */
export function rewriteSql(input: string): RewrittenSql {
  const params: string[] = [];
  let out = '';
  let i = 0;
  while (i < input.length) {
    const ch = input[i]!;
    const next = input[i + 1];

    if (ch === "'" || ch === '"') {
      const end = endOfQuoted(input, i, ch);
      out += input.slice(i, end);
      i = end;
    } else if (ch === '-' && next === '-') {
      const end = input.indexOf('\n', i);
      const stop = end === -1 ? input.length : end;
      out += input.slice(i, stop);
      i = stop;
    } else if (ch === '/' && next === '*') {
      const end = input.indexOf('*/', i + 2);
      const stop = end === -1 ? input.length : end + 2;
      out += input.slice(i, stop);
      i = stop;
    } else if (ch === '`') {
      const end = input.indexOf('`', i + 1);
      if (end === -1) throw new SyntaxError('Unterminated `quoted identifier` in SQL');
      out += quotePath(input.slice(i + 1, end));
      i = end + 1;
    } else if (ch === '@' && next !== undefined && /[A-Za-z_]/.test(next)) {
      const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(input.slice(i + 1))!;
      params.push(match[0]);
      out += `$${match[0]}`;
      i += 1 + match[0].length;
    } else {
      const rest = input.slice(i);
      const unnest = /^IN\s+UNNEST\s*\(\s*@([A-Za-z_][A-Za-z0-9_]*)\s*\)/i.exec(rest);
      const arrayType = /^ARRAY\s*<\s*([A-Za-z0-9_]+)\s*>/i.exec(rest);
      if (unnest && isWordStart(input, i)) {
        params.push(unnest[1]!);
        out += `IN (SELECT UNNEST($${unnest[1]}))`;
        i += unnest[0].length;
      } else if (arrayType && isWordStart(input, i)) {
        out += `${arrayType[1]}[]`;
        i += arrayType[0].length;
      } else {
        out += ch;
        i += 1;
      }
    }
  }
  return { sql: out, params };
}

function endOfQuoted(text: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < text.length) {
    if (text[i] === '\\') i += 2;
    else if (text[i] === quote && text[i + 1] === quote) i += 2;
    else if (text[i] === quote) return i + 1;
    else i += 1;
  }
  throw new SyntaxError('Unterminated string literal in SQL');
}

function isWordStart(text: string, index: number): boolean {
  return index === 0 || !/[A-Za-z0-9_]/.test(text[index - 1]!);
}

function quotePath(path: string): string {
  const parts = path.split('.');
  const tail = parts.length === 3 ? parts.slice(1) : parts;
  return tail.map(quoteIdent).join('.');
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `dataset.table` as a quoted DuckDB name; rejects anything else. */
export function quoteTable(table: string): { schema: string; name: string; sql: string } {
  const match = /^([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(table);
  if (!match) throw new TypeError(`"${table}" is not a dataset.table name`);
  const [, schema, name] = match as unknown as [string, string, string];
  return { schema, name, sql: `${quoteIdent(schema)}.${quoteIdent(name)}` };
}
