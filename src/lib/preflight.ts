/**
 * Preflight: one cheap round trip to every backend of the profile, each under its own
 * deadline, all at once, so "is anything down?" is answered in seconds, not minutes.
 */

import type { Backends, PingResult } from './backends/ports.js';
import { errorMessage } from './errors.js';

export interface PreflightCheck {
  backend: PingResult['backend'];
  ok: boolean;
  ms: number;
  target: string | null;
  error: string | null;
}

const BACKENDS: PingResult['backend'][] = ['documents', 'warehouse', 'bus', 'endpoints'];

export async function preflight(backends: Backends, deadlineMs: number): Promise<PreflightCheck[]> {
  return Promise.all(
    BACKENDS.map(async (backend) => {
      const started = performance.now();
      try {
        const target = await withDeadline(backends.ping(backend), deadlineMs, backend);
        return { backend, ok: true, ms: elapsed(started), target, error: null };
      } catch (error) {
        return {
          backend,
          ok: false,
          ms: elapsed(started),
          target: null,
          error: errorMessage(error),
        };
      }
    }),
  );
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}

export async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
