/**
 * The Warehouse port against every adapter: DuckDB directly, and BigQuery's real client
 * talking to the loopback BigQuery server. The SQL is written once, in the shared dialect.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { param, type Backends, type ColumnDef, type Row } from '../../src/lib/backends/ports.js';
import { OperationFailed, Unavailable } from '../../src/lib/errors.js';
import { adapters, uniqueName } from '../harness/backends.js';

const COLUMNS: ColumnDef[] = [
  { name: 'game_date', type: 'DATE' },
  { name: 'player_lookup', type: 'STRING' },
  { name: 'predicted_points', type: 'FLOAT64' },
  { name: 'records', type: 'INT64' },
  { name: 'is_production_ready', type: 'BOOL' },
  { name: 'created_at', type: 'TIMESTAMP' },
  { name: 'entities_changed', type: 'STRING', array: true },
];

const CREATED = new Date('2026-12-01T15:04:05.123Z');

const ROWS: Row[] = [
  {
    game_date: '2026-12-01',
    player_lookup: 'lebronjames',
    predicted_points: 27.5,
    records: 3,
    is_production_ready: true,
    created_at: CREATED,
    entities_changed: ['a', 'b'],
  },
  {
    game_date: '2026-12-01',
    player_lookup: 'nanplayer',
    predicted_points: Number.NaN,
    records: 0,
    is_production_ready: false,
    created_at: CREATED,
    entities_changed: [],
  },
  {
    game_date: '2026-12-02',
    player_lookup: 'nullplayer',
    predicted_points: null,
    records: null,
    is_production_ready: null,
    created_at: null,
    entities_changed: ['c'],
  },
];

for (const adapter of adapters()) {
  describe.skipIf(!adapter.enabled)(`Warehouse on ${adapter.name}`, () => {
    let backends: Backends;
    const dataset = uniqueName('contract');
    const table = `${dataset}.player_prop_predictions`;

    beforeAll(async () => {
      backends = await adapter.open();
      await backends.warehouse.ensureTable(table, COLUMNS);
      await backends.warehouse.insert(table, ROWS, COLUMNS);
    });
    afterAll(async () => {
      await backends?.close();
    });

    it('returns inserted rows in the port shape: DATE text, TIMESTAMP Date, NaN, NULL and lists', async () => {
      const rows = await backends.warehouse.query(
        `SELECT * FROM \`${table}\` ORDER BY player_lookup`,
      );
      expect(rows).toHaveLength(3);
      expect(rows[0]).toEqual(ROWS[0]);
      expect(rows[1]).toMatchObject({ player_lookup: 'nanplayer', records: 0 });
      expect(Number.isNaN(rows[1]?.predicted_points)).toBe(true);
      expect(rows[1]?.is_production_ready).toBe(false);
      expect(rows[1]?.entities_changed).toEqual([]);
      expect(rows[2]).toMatchObject({
        game_date: '2026-12-02',
        predicted_points: null,
        records: null,
        is_production_ready: null,
        created_at: null,
      });
    });

    it('keeps existing rows when ensureTable runs again', async () => {
      await backends.warehouse.ensureTable(table, COLUMNS);
      const [row] = await backends.warehouse.query(`SELECT COUNT(*) AS n FROM \`${table}\``);
      expect(row).toEqual({ n: 3 });
    });

    it('filters by DATE, TIMESTAMP and BOOL parameters', async () => {
      const rows = await backends.warehouse.query(
        `SELECT player_lookup FROM \`${table}\`
         WHERE game_date = @game_date AND created_at = @created AND is_production_ready = @ready`,
        { game_date: param.date('2026-12-01'), created: CREATED, ready: true },
      );
      expect(rows).toEqual([{ player_lookup: 'lebronjames' }]);
    });

    it('round-trips parameters of every type, including NULL, NaN and infinities', async () => {
      const [row] = await backends.warehouse.query(
        `SELECT @d AS d, @t AS t, @b AS b, @i AS i, @f AS f, @nan AS nan, @inf AS inf,
                @neg AS neg, @s AS s, @null_date AS null_date, @null_float AS null_float`,
        {
          d: param.date('2026-12-31'),
          t: new Date('2026-12-31T23:59:59.999Z'),
          b: false,
          i: 9_007_199_254_740_991,
          f: 0.1,
          nan: Number.NaN,
          inf: Number.POSITIVE_INFINITY,
          neg: Number.NEGATIVE_INFINITY,
          s: "o'neal; DROP TABLE x --",
          null_date: param.null('DATE'),
          null_float: param.float(null),
        },
      );
      expect(row).toMatchObject({
        d: '2026-12-31',
        t: new Date('2026-12-31T23:59:59.999Z'),
        b: false,
        i: 9_007_199_254_740_991,
        f: 0.1,
        inf: Number.POSITIVE_INFINITY,
        neg: Number.NEGATIVE_INFINITY,
        s: "o'neal; DROP TABLE x --",
        null_date: null,
        null_float: null,
      });
      expect(Number.isNaN(row?.nan)).toBe(true);
    });

    it('finds NaN predictions with IS_NAN and counts them with COUNTIF', async () => {
      const [row] = await backends.warehouse.query(
        `SELECT COUNTIF(IS_NAN(predicted_points)) AS bad, COUNT(*) AS total
         FROM \`${table}\` WHERE game_date = @d`,
        { d: param.date('2026-12-01') },
      );
      expect(row).toEqual({ bad: 1, total: 2 });
    });

    it('matches a list parameter with IN UNNEST(@list), and an empty list matches nothing', async () => {
      const sql = `SELECT player_lookup FROM \`${table}\`
                   WHERE player_lookup IN UNNEST(@players) ORDER BY player_lookup`;
      const some = await backends.warehouse.query(sql, {
        players: ['lebronjames', 'nullplayer', 'nobody'],
      });
      expect(some).toEqual([{ player_lookup: 'lebronjames' }, { player_lookup: 'nullplayer' }]);
      const none = await backends.warehouse.query(sql, { players: param.strings([]) });
      expect(none).toEqual([]);
    });

    it('inserts more rows than fit in one statement and loses none', async () => {
      const bulk = `${dataset}.bulk`;
      const columns: ColumnDef[] = [
        { name: 'player_lookup', type: 'STRING' },
        { name: 'n', type: 'INT64' },
        { name: 'x', type: 'FLOAT64' },
      ];
      await backends.warehouse.ensureTable(bulk, columns);
      const rows = Array.from({ length: 1_500 }, (_, i) => ({
        player_lookup: `p${i}`,
        n: i,
        x: i / 2,
      }));
      await backends.warehouse.insert(bulk, rows, columns);
      const [row] = await backends.warehouse.query(
        `SELECT COUNT(*) AS n, COUNT(DISTINCT player_lookup) AS players, SUM(n) AS total FROM \`${bulk}\``,
      );
      expect(row).toEqual({ n: 1_500, players: 1_500, total: (1_499 * 1_500) / 2 });
    });

    it('reports a query on a missing table as OperationFailed, not as an outage', async () => {
      const error = await backends.warehouse
        .query(`SELECT * FROM \`${dataset}.no_such_table\``)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OperationFailed);
      expect(error).not.toBeInstanceOf(Unavailable);
      expect((error as OperationFailed).exitCode).toBe(1);
    });
  });
}
