import { describe, expect, it } from 'vitest';

import {
  formatDuration,
  parseDuration,
  parseGameDate,
  slaDeadline,
  timeToDeadline,
  type GameDate,
} from '../../src/lib/dates.js';
import { UserError } from '../../src/lib/errors.js';
import { correlationId, idempotencyKey } from '../../src/lib/ids.js';

const LA = { timezone: 'America/Los_Angeles' };
const SLA = { timezone: 'America/New_York', deadline: '10:00' };

describe('game dates', () => {
  it('resolves today in the pipeline zone, not UTC, just after midnight UTC', () => {
    // 07:30 UTC on 3 Dec is still 23:30 on 2 Dec in Los Angeles.
    const now = new Date('2026-12-03T07:30:00Z');
    expect(parseGameDate('today', { ...LA, now })).toBe('2026-12-02');
    expect(parseGameDate('yesterday', { ...LA, now })).toBe('2026-12-01');
  });

  it('refuses impossible calendar dates as bad input', () => {
    expect(() => parseGameDate('2025-02-30', LA)).toThrowError(UserError);
    expect(() => parseGameDate('2025-13-01', LA)).toThrowError(/not a calendar date/);
    expect(() => parseGameDate('12/03/2026', LA)).toThrowError(/not a date/);
  });

  it('accepts tomorrow and refuses two days ahead', () => {
    const now = new Date('2026-12-03T18:00:00Z');
    expect(parseGameDate('2026-12-04', { ...LA, now })).toBe('2026-12-04');
    expect(() => parseGameDate('2026-12-05', { ...LA, now })).toThrowError(
      /more than one day ahead/,
    );
  });

  it('puts the SLA at 10:00 Eastern across a daylight-saving change', () => {
    expect(slaDeadline('2026-03-07' as GameDate, SLA).toISOString()).toBe(
      '2026-03-07T15:00:00.000Z',
    );
    expect(slaDeadline('2026-03-09' as GameDate, SLA).toISOString()).toBe(
      '2026-03-09T14:00:00.000Z',
    );
  });

  it('counts time left to the deadline and formats it', () => {
    const now = new Date('2026-12-03T12:30:00Z'); // 07:30 ET
    const left = timeToDeadline('2026-12-03' as GameDate, SLA, now);
    expect(left).toBe(2.5 * 3_600_000);
    expect(formatDuration(left)).toBe('2h 30m');
    expect(formatDuration(-5 * 60_000)).toBe('-0h 05m');
  });

  it('parses durations and rejects nonsense', () => {
    expect(parseDuration('30m', '--timeout')).toBe(1_800_000);
    expect(parseDuration('2h', '--older-than')).toBe(7_200_000);
    expect(() => parseDuration('soon', '--timeout')).toThrowError(/--timeout "soon"/);
  });
});

describe('correlation ids and idempotency keys', () => {
  it('makes a manual id when none is given and checks a given one', () => {
    expect(correlationId()).toMatch(/^manual-[0-9a-f-]{36}$/);
    expect(correlationId('run-2026-12-03')).toBe('run-2026-12-03');
    expect(() => correlationId("x'; DROP TABLE")).toThrowError(UserError);
  });

  it('builds keys as correlation:stage:date[:entity]', () => {
    expect(idempotencyKey('c1', 'phase4-trigger', '2026-12-03')).toBe(
      'c1:phase4-trigger:2026-12-03',
    );
    expect(idempotencyKey('c1', 'prediction-request', '2026-12-03', 'lebronjames')).toBe(
      'c1:prediction-request:2026-12-03:lebronjames',
    );
  });
});
