/**
 * Seeded randomness for the sandbox. Every value is drawn from a stream named by what it is
 * for (`seed`, `2026-01-15`, `PlayerGameSummaryProcessor`, `lebronjames`), so adding a player
 * or a scenario never shifts the values of another: a seed reproduces the same game day.
 */

import { createHash } from 'node:crypto';

export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number;
  /** Uniform in [min, max). */
  float(min: number, max: number): number;
  /** Roughly normal (sum of uniforms), mean and standard deviation as given. */
  normal(mean: number, sd: number): number;
  pick<T>(items: readonly T[]): T;
  /** A deterministic shuffle (Fisher-Yates) of a copy. */
  shuffle<T>(items: readonly T[]): T[];
}

/** A stream for one purpose; the same labels always give the same sequence. */
export function stream(seed: number, ...labels: string[]): Random {
  const digest = createHash('sha256')
    .update([String(seed), ...labels].join('\u0000'))
    .digest();
  return mulberry32(digest.readUInt32LE(0));
}

function mulberry32(initial: number): Random {
  let state = initial >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const random: Random = {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    float: (min, max) => min + next() * (max - min),
    normal: (mean, sd) => mean + sd * (next() + next() + next() + next() - 2) * Math.sqrt(3),
    pick: (items) => items[Math.floor(next() * items.length)]!,
    shuffle: (items) => {
      const out = [...items];
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [out[i], out[j]] = [out[j]!, out[i]!];
      }
      return out;
    },
  };
  return random;
}
