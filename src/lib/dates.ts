/**
 * Game dates and the SLA clock. A game date is a calendar day in the pipeline's time zone;
 * deriving it from the machine's clock near midnight is one of the pipeline's known failure
 * modes, so every conversion here goes through an explicit zone (Luxon), never offset math.
 */

import { DateTime } from 'luxon';

import { UserError } from './errors.js';

export type GameDate = string & { readonly __brand: 'GameDate' };

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export interface DateContext {
  /** The pipeline's zone, in which `today` and `yesterday` are resolved. */
  timezone: string;
  now?: Date;
}

/**
 * Turns `YYYY-MM-DD`, `today` or `yesterday` into a game date. Impossible dates such as
 * 2025-02-30 and dates more than one day ahead are bad input.
 */
export function parseGameDate(input: string, context: DateContext): GameDate {
  const now = DateTime.fromJSDate(context.now ?? new Date(), { zone: context.timezone });
  const value = input.trim().toLowerCase();

  let day: DateTime;
  if (value === 'today') day = now.startOf('day');
  else if (value === 'yesterday') day = now.minus({ days: 1 }).startOf('day');
  else {
    const match = ISO_DATE.exec(value);
    if (!match) {
      throw new UserError(`"${input}" is not a date`, {
        hint: 'Accepted: YYYY-MM-DD, today or yesterday.',
      });
    }
    day = DateTime.fromISO(value, { zone: context.timezone });
    if (!day.isValid) {
      throw new UserError(`${input} is not a calendar date`, {
        hint: 'Accepted: a real YYYY-MM-DD date, today or yesterday.',
      });
    }
  }

  const tomorrow = now.startOf('day').plus({ days: 1 });
  if (day > tomorrow) {
    throw new UserError(`${day.toISODate()} is more than one day ahead`, {
      hint: `Game dates up to ${tomorrow.toISODate()} (${context.timezone}) are accepted.`,
    });
  }
  return day.toISODate() as GameDate;
}

/** A value already validated elsewhere (a document id, a warehouse row). */
export function isGameDate(value: string): value is GameDate {
  return ISO_DATE.test(value) && DateTime.fromISO(value).isValid;
}

export function todayIn(timezone: string, now: Date = new Date()): GameDate {
  return DateTime.fromJSDate(now, { zone: timezone }).toISODate() as GameDate;
}

export function addDays(date: GameDate, days: number): GameDate {
  return DateTime.fromISO(date, { zone: 'UTC' }).plus({ days }).toISODate() as GameDate;
}

export interface SlaSettings {
  timezone: string;
  /** HH:MM in `timezone`. */
  deadline: string;
}

/** The moment predictions for `date` must exist: 10:00 ET on the game date by default. */
export function slaDeadline(date: GameDate, sla: SlaSettings): Date {
  const [hour, minute] = sla.deadline.split(':').map(Number);
  return DateTime.fromISO(date, { zone: sla.timezone })
    .set({ hour: hour ?? 10, minute: minute ?? 0, second: 0, millisecond: 0 })
    .toJSDate();
}

/** Milliseconds until the deadline; negative once it has passed. */
export function timeToDeadline(date: GameDate, sla: SlaSettings, now: Date = new Date()): number {
  return slaDeadline(date, sla).getTime() - now.getTime();
}

/** `2h 05m`, `-0h 12m` (past), for tables. */
export function formatDuration(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  const minutes = Math.floor(Math.abs(ms) / 60_000);
  const hours = Math.floor(minutes / 60);
  if (hours >= 48) return `${sign}${Math.floor(hours / 24)}d ${hours % 24}h`;
  return `${sign}${hours}h ${String(minutes % 60).padStart(2, '0')}m`;
}

/** Parses `30m`, `2h`, `45s`, `1d` into milliseconds. */
export function parseDuration(input: string, optionName: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(input.trim());
  if (!match) {
    throw new UserError(`${optionName} "${input}" is not a duration`, {
      hint: 'Accepted: a number followed by ms, s, m, h or d, for example 30m or 2h.',
    });
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'ms'];
  return Number(match[1]) * unit;
}
