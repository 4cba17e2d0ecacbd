/**
 * "Has this work been done?" asked under a deadline. A caller that times out waiting for the
 * answer must not guess: one service treating a timeout as "done" skips work that never
 * happened, and stale data is served with nothing in any log. So every such check in the
 * pipeline gives a timeout the same answer: the work is NOT done. The caller then does (or
 * waits for) the work, which is safe because every processor and trigger is idempotent, and
 * a warning says the answer was assumed rather than known.
 */

import type { LibContext } from '../context.js';

export interface DoneCheck {
  /** What is being checked, for the warning: `upstream data for phase 3 on 2026-12-01`. */
  what: string;
  /** Deadline in milliseconds. */
  deadlineMs: number;
  /** Answers true when the work is done; should stop when `signal` aborts. */
  check: (signal: AbortSignal) => Promise<boolean>;
}

export type DoneAnswer =
  | { done: boolean; timedOut: false }
  /** The deadline passed: the answer is always "not done". */
  | { done: false; timedOut: true; warning: string };

/**
 * Runs `check` with a deadline. A timeout resolves to `{done: false, timedOut: true}` and logs a
 * warning through `ctx.log`; any other failure of the check is thrown, because "the query is
 * wrong" must not be mistaken for "the backend is slow".
 */
export async function checkDone(
  ctx: Pick<LibContext, 'log'>,
  request: DoneCheck,
): Promise<DoneAnswer> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new Error(`deadline of ${request.deadlineMs} ms passed`));
      resolve('timeout');
    }, request.deadlineMs);
  });

  try {
    const answer = await Promise.race([request.check(controller.signal), expired]);
    if (answer !== 'timeout') return { done: answer, timedOut: false };
  } catch (error) {
    // A check that failed because we aborted it is a timeout, not an error.
    if (!controller.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
  }

  const warning =
    `The check of ${request.what} did not answer within ${request.deadlineMs} ms; ` +
    'treating the work as not done';
  ctx.log?.({ level: 'warn', message: warning, check: request.what, timed_out: true });
  return { done: false, timedOut: true, warning };
}
