/**
 * Parsing of option values that every command group shares. Values from argv are checked
 * here, at the edge, and a bad one is a UserError naming the option, what was given and what
 * is accepted.
 */

import { UserError } from '../lib/errors.js';

export interface WholeNumberRange {
  min?: number;
  max?: number;
}

/** `--limit 20`: digits only (no sign, no decimals, no exponent), within the range. */
export function wholeNumber(input: string, option: string, range: WholeNumberRange = {}): number {
  const min = range.min ?? 0;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  const value = Number(input.trim());
  if (!/^\d+$/.test(input.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    const accepted = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
    throw new UserError(`${option} "${input}" is not valid`, {
      hint: `Give ${option} a whole number ${accepted}.`,
    });
  }
  return value;
}
