/**
 * Deadlines, retries and circuit breakers for backend calls, shared by every adapter.
 *
 * One policy per backend: every call gets a deadline, transient failures (the backend said
 * "unavailable", or did not answer) are retried with exponential backoff and jitter, and a
 * backend that keeps failing opens a breaker so a runbook loop stops hammering it and the
 * operator gets one clear "unreachable" error instead of a wall of timeouts.
 */

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
  type CircuitBreakerPolicy,
} from 'cockatiel';

import { PipectlError, Unavailable } from './errors.js';

export interface PolicyOptions {
  /** Names the backend and where it lives, for messages: `Firestore at 127.0.0.1:8080`. */
  name: string;
  /** Deadline for one call, retries included, in milliseconds. */
  timeoutMs: number;
  /** Extra attempts after a transient failure (default 2). */
  retries?: number;
  /** Consecutive transient failures that open the breaker (default 5). */
  breakerThreshold?: number;
  /** How long an open breaker refuses calls before letting one through (default 10 s). */
  halfOpenAfterMs?: number;
  /** What the operator should do when the backend is unreachable. */
  hint?: string;
  /**
   * Maps a backend's own error to the pipectl error family. Errors mapped to `Unavailable`
   * are the transient ones: they are retried and counted by the breaker.
   */
  classify?: (error: unknown) => unknown;
}

export interface CallOptions {
  /**
   * False for calls that must not be repeated blindly: a repeated `create` whose first
   * attempt committed would report a false "already exists".
   */
  idempotent?: boolean;
  /** Overrides the policy's deadline for this call. */
  timeoutMs?: number;
}

export interface ResiliencePolicy {
  readonly name: string;
  execute<T>(fn: (signal: AbortSignal) => Promise<T>, options?: CallOptions): Promise<T>;
}

export function createPolicy(options: PolicyOptions): ResiliencePolicy {
  const classify = options.classify ?? ((error: unknown) => error);
  const hint = options.hint ?? `Check that ${options.name} is running and reachable.`;
  const halfOpenAfter = options.halfOpenAfterMs ?? 10_000;
  // Transient: the backend said "unavailable" (after classification) or missed the deadline.
  const isTransient = handleWhen(
    (error) => error instanceof Unavailable || error instanceof TaskCancelledError,
  );
  const breaker: CircuitBreakerPolicy = circuitBreaker(isTransient, {
    halfOpenAfter,
    breaker: new ConsecutiveBreaker(options.breakerThreshold ?? 5),
  });
  const retrying = retry(
    handleWhen((error) => error instanceof Unavailable),
    {
      maxAttempts: options.retries ?? 2,
      backoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 2_000 }),
    },
  );

  return {
    name: options.name,
    async execute<T>(fn: (signal: AbortSignal) => Promise<T>, call: CallOptions = {}) {
      const deadlineMs = call.timeoutMs ?? options.timeoutMs;
      const deadline = timeout(deadlineMs, TimeoutStrategy.Aggressive);
      // Classify each attempt so only "backend unwell" is retried, never a lost
      // precondition or a bad query.
      const attempt = async (signal: AbortSignal) => {
        // The retry loop may wake from its backoff after the deadline passed: start nothing.
        if (signal.aborted) throw new TaskCancelledError('The deadline passed');
        try {
          return await fn(signal);
        } catch (error) {
          throw classify(error);
        }
      };
      // The breaker sees one outcome per call (retries and deadline included), so it opens
      // after that many calls in a row failed, not after one call's retries.
      try {
        return await breaker.execute(() =>
          deadline.execute(({ signal }) =>
            call.idempotent === false
              ? attempt(signal)
              : retrying.execute(({ signal: inner }) => attempt(inner), signal),
          ),
        );
      } catch (error) {
        throw translate(error, options.name, deadlineMs, halfOpenAfter, hint);
      }
    },
  };
}

function translate(
  error: unknown,
  name: string,
  deadlineMs: number,
  halfOpenAfterMs: number,
  hint: string,
): unknown {
  if (error instanceof PipectlError) return error;
  if (error instanceof BrokenCircuitError) {
    return new Unavailable(
      `${name} failed repeatedly; pipectl stops calling it for ${Math.round(halfOpenAfterMs / 1000)} s`,
      { hint, cause: error },
    );
  }
  if (error instanceof TaskCancelledError) {
    return new Unavailable(`${name} did not answer within ${deadlineMs} ms`, {
      hint,
      cause: error,
    });
  }
  return error;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** True for the socket errors that mean "nothing is listening there" or "the peer went away". */
export function isConnectionError(error: unknown): boolean {
  return errorCodes(error).some((code) => typeof code === 'string' && CONNECTION_CODES.has(code));
}

/** The `code`s along an error's `cause` chain: fetch hides the socket error in its cause. */
export function errorCodes(error: unknown): (string | number)[] {
  const codes: (string | number)[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' || typeof code === 'number') codes.push(code);
    current = (current as { cause?: unknown }).cause;
  }
  return codes;
}
