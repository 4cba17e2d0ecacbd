import { describe, expect, it } from 'vitest';

import { rewriteSql } from '../../src/lib/backends/local/sql.js';

describe('BigQuery to DuckDB rewrite', () => {
  it('turns backquoted project.dataset.table names into quoted schema.table', () => {
    expect(rewriteSql('SELECT * FROM `proj.nba_raw.t` JOIN `nba_raw.u` USING (x)').sql).toBe(
      'SELECT * FROM "nba_raw"."t" JOIN "nba_raw"."u" USING (x)',
    );
  });

  it('rewrites @name markers and lists the names', () => {
    const out = rewriteSql('SELECT @a, @b_2 WHERE x = @a');
    expect(out.sql).toBe('SELECT $a, $b_2 WHERE x = $a');
    expect(out.params).toEqual(['a', 'b_2', 'a']);
  });

  it('leaves markers inside string literals and comments alone', () => {
    const sql = "SELECT '@not', 'it''s @x' -- @y\n, \"@z\" /* @w */";
    expect(rewriteSql(sql)).toEqual({ sql, params: [] });
  });

  it('rewrites IN UNNEST(@list) and ARRAY<STRING>', () => {
    expect(rewriteSql('x NOT IN UNNEST(@players)').sql).toBe('x NOT IN (SELECT UNNEST($players))');
    expect(rewriteSql('CREATE TABLE t (a ARRAY<STRING>)').sql).toBe('CREATE TABLE t (a STRING[])');
  });

  it('refuses an unterminated literal instead of guessing', () => {
    expect(() => rewriteSql("SELECT 'oops")).toThrowError(/Unterminated/);
  });
});
