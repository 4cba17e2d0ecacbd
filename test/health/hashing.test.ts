import { describe, expect, it } from 'vitest';

import { DEFAULT_EXCLUDED_FIELDS, rowHash } from '../../src/lib/hashing.js';

const base = {
  game_date: '2025-01-15',
  player_lookup: 'lebronjames',
  stat_value: 27.5,
  minutes: 34,
  starter: true,
  source_updated_at: new Date('2025-01-15T06:00:00Z'),
  tags: ['home', 'b2b'],
};

describe('rowHash', () => {
  it('changes when any one meaningful field changes', () => {
    const before = rowHash(base);
    const variants: Record<string, unknown>[] = [
      { ...base, game_date: '2025-01-16' },
      { ...base, player_lookup: 'stephencurry' },
      { ...base, stat_value: 27.6 },
      { ...base, minutes: 35 },
      { ...base, starter: false },
      { ...base, source_updated_at: new Date('2025-01-15T06:00:01Z') },
      { ...base, tags: ['home'] },
      { ...base, tags: ['b2b', 'home'] },
      { ...base, stat_value: null },
      { ...base, new_field: 1 },
    ];
    const hashes = variants.map((v) => rowHash(v));
    for (const hash of hashes) expect(hash).not.toBe(before);
    expect(new Set(hashes).size).toBe(variants.length);
  });

  it('does not depend on key order, at the top level or nested', () => {
    const reversed = Object.fromEntries(Object.entries(base).reverse());
    expect(rowHash(reversed)).toBe(rowHash(base));
    expect(rowHash({ a: { x: 1, y: 2 } })).toBe(rowHash({ a: { y: 2, x: 1 } }));
  });

  it('ignores the excluded bookkeeping fields, and only those', () => {
    const stamped = {
      ...base,
      data_hash: 'abc',
      processed_at: new Date(),
      created_at: new Date(),
    };
    expect(DEFAULT_EXCLUDED_FIELDS).toEqual(['data_hash', 'processed_at', 'created_at']);
    expect(rowHash(stamped)).toBe(rowHash(base));
    expect(rowHash({ ...base, batch: 1 }, { exclude: ['batch'] })).toBe(
      rowHash(base, { exclude: ['batch'] }),
    );
    expect(rowHash({ ...base, batch: 1 }, { exclude: ['other'] })).not.toBe(
      rowHash(base, { exclude: ['other'] }),
    );
  });

  it('tells types apart: "1" from 1, null from "null", true from 1, a date from its ISO text', () => {
    expect(rowHash({ v: '1' })).not.toBe(rowHash({ v: 1 }));
    expect(rowHash({ v: null })).not.toBe(rowHash({ v: 'null' }));
    expect(rowHash({ v: true })).not.toBe(rowHash({ v: 1 }));
    expect(rowHash({ v: true })).not.toBe(rowHash({ v: 'true' }));
    const at = new Date('2025-01-15T06:00:00Z');
    expect(rowHash({ v: at })).not.toBe(rowHash({ v: at.toISOString() }));
    expect(rowHash({ v: [1, 2] })).not.toBe(rowHash({ v: '1,2' }));
    expect(rowHash({ v: ['a,b'] })).not.toBe(rowHash({ v: ['a', 'b'] }));
    expect(rowHash({ a: 'x', b: 'y' })).not.toBe(rowHash({ a: 'x","b":"y' }));
  });

  it('hashes a number alike whatever its JavaScript type (INT64 may come back as bigint)', () => {
    expect(rowHash({ v: 3 })).toBe(rowHash({ v: 3n }));
    expect(rowHash({ v: 3 })).toBe(rowHash({ v: 3.0 }));
    expect(rowHash({ v: Number.NaN })).not.toBe(rowHash({ v: null }));
  });

  it('hashes a NULL column, an undefined field and a missing field alike (row as stored)', () => {
    const stored = { ...base, injury_note: null };
    const written = { ...base, injury_note: undefined };
    expect(rowHash(stored)).toBe(rowHash(base));
    expect(rowHash(written)).toBe(rowHash(base));
  });

  it('does not throw on an invalid date', () => {
    expect(() => rowHash({ v: new Date('not a date') })).not.toThrow();
    expect(rowHash({ v: new Date('not a date') })).not.toBe(rowHash({ v: null }));
  });

  it('is a 32-character hex string', () => {
    expect(rowHash(base)).toMatch(/^[0-9a-f]{32}$/);
  });
});
