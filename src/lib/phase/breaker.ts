/**
 * One resilience policy (deadline, retry with exponential backoff and jitter, circuit breaker)
 * per backend, kept for the life of the process. A service or a runbook loop that calls the
 * same Cloud Run endpoint many times shares one breaker, so once the endpoint keeps failing
 * the calls stop at once with one clear "unreachable" error instead of a minute of timeouts.
 *
 * Only `Unavailable` failures are transient: they are retried and counted by the breaker. A
 * refusal, a bad request or a failed precondition passes straight through.
 */

// Limitation: the shared policy builder of the Google adapters (src/lib/resilience.ts) was not
// on main when this was written; this is the same cockatiel composition, and should become a
// thin registry over `createPolicy` once that module lands.
import {
  BrokenCircuitError,
  ConsecutiveBreaker,
  ExponentialBackoff,
  TaskCancelledError,
  TimeoutStrategy,
  circuitBreaker,
  handleWhen,
  retry,
  timeout,
  wrap,
  type IPolicy,
} from 'cockatiel';

import { PipectlError, Unavailable } from '../errors.js';

export interface BreakerOptions {
  /** Names the backend in messages: `the coordinator service at https://...`. */
  name: string;
  /** Deadline for one call, retries included. */
  timeoutMs: number;
  /** Extra attempts after a transient failure (default 2). */
  retries?: number;
  /** Consecutive transient failures that open the breaker (default 5). */
  threshold?: number;
  /** How long an open breaker refuses calls before letting one through (default 10 s). */
  halfOpenAfterMs?: number;
  hint?: string;
}

export interface Breaker {
  readonly name: string;
  execute<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T>;
}

const breakers = new Map<string, Breaker>();

/** The breaker for `options.name`, created on first use with these options. */
export function breakerFor(options: BreakerOptions): Breaker {
  let breaker = breakers.get(options.name);
  if (!breaker) {
    breaker = createBreaker(options);
    breakers.set(options.name, breaker);
  }
  return breaker;
}

/** Forgets every breaker (tests, or a long-lived service reloading its configuration). */
export function resetBreakers(): void {
  breakers.clear();
}

function createBreaker(options: BreakerOptions): Breaker {
  const transient = handleWhen((error) => error instanceof Unavailable);
  const halfOpenAfter = options.halfOpenAfterMs ?? 10_000;
  const breaker = circuitBreaker(transient, {
    halfOpenAfter,
    breaker: new ConsecutiveBreaker(options.threshold ?? 5),
  });
  const retrying = retry(transient, {
    maxAttempts: options.retries ?? 2,
    backoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 2_000 }),
  });
  const policy: IPolicy = wrap(
    timeout(options.timeoutMs, TimeoutStrategy.Aggressive),
    retrying,
    breaker,
  );
  const hint = options.hint ?? `Check that ${options.name} is running and reachable.`;

  return {
    name: options.name,
    async execute<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
      try {
        return await policy.execute(({ signal }) => fn(signal));
      } catch (error) {
        if (error instanceof PipectlError) throw error;
        if (error instanceof BrokenCircuitError) {
          throw new Unavailable(
            `${options.name} failed repeatedly; calls stop for ${Math.round(halfOpenAfter / 1000)} s`,
            { hint, cause: error },
          );
        }
        if (error instanceof TaskCancelledError) {
          throw new Unavailable(`${options.name} did not answer within ${options.timeoutMs} ms`, {
            hint,
            cause: error,
          });
        }
        throw error;
      }
    },
  };
}
