/**
 * A watchdog for long operations: a fan-out, a wait on a gate, a backfill loop. After its
 * limit it calls `onExpire` once (to alert, or to log where the work stood) and aborts the
 * signal the work was given, so a stuck call cannot keep a job running past its window.
 */

import { OperationFailed } from '../errors.js';
import { formatDuration } from '../dates.js';

export interface WatchdogOptions {
  /** What is being watched, for the message: `phase 4 fan-out for 2026-12-01`. */
  what: string;
  limitMs: number;
  /** Called once when the limit passes, before the work is aborted. */
  onExpire?: (elapsedMs: number) => void;
}

export interface Watchdog {
  /** Aborted when the limit passes; hand it to the work. */
  readonly signal: AbortSignal;
  readonly expired: boolean;
  /** Call when the work ends in time; the callback will not fire. */
  stop(): void;
}

export function startWatchdog(options: WatchdogOptions): Watchdog {
  const controller = new AbortController();
  const started = Date.now();
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    options.onExpire?.(Date.now() - started);
    controller.abort(watchdogError(options));
  }, options.limitMs);
  timer.unref?.();
  return {
    signal: controller.signal,
    get expired() {
      return expired;
    },
    stop: () => clearTimeout(timer),
  };
}

/**
 * Runs `work` under a watchdog. If the limit passes first, `onExpire` fires, the signal aborts
 * and this rejects with OperationFailed even if `work` ignores the signal.
 */
export async function withWatchdog<T>(
  options: WatchdogOptions,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const dog = startWatchdog(options);
  const aborted = new Promise<never>((_, reject) => {
    dog.signal.addEventListener('abort', () => reject(dog.signal.reason as Error), { once: true });
  });
  // A rejection nobody awaits (work finished first) must not crash the process.
  aborted.catch(() => undefined);
  try {
    return await Promise.race([work(dog.signal), aborted]);
  } finally {
    dog.stop();
  }
}

function watchdogError(options: WatchdogOptions): OperationFailed {
  return new OperationFailed(
    `${options.what} ran past its limit of ${formatLimit(options.limitMs)} and was stopped`,
    { hint: 'Check what it was waiting on, then re-run it; the work is idempotent.' },
  );
}

function formatLimit(ms: number): string {
  return ms < 60_000 ? `${Math.round(ms / 1000)} s` : formatDuration(ms);
}
