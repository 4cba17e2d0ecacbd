/**
 * `--wait`: follow a phase to completion for a date. Phase N (2-4) is complete when its gate
 * has a successful report from every expected processor; phase 5 when the coordinator's batch
 * says `complete`. A `failed` run of the phase in run history since the wait began, or a
 * failed batch, ends the wait at once. Polling backs off (with jitter) up to a ceiling, and a
 * watchdog ends the wait at its limit, naming what is still missing.
 */

import { readGate } from '../completion.js';
import { readBatch } from '../coordinator/index.js';
import type { LibContext } from '../context.js';
import type { GameDate } from '../dates.js';
import type { RunnablePhase } from '../pipeline.js';
import { failedRuns } from './running.js';
import { startWatchdog } from './watchdog.js';

export interface PhaseProgress {
  phase: RunnablePhase;
  gameDate: GameDate;
  /** Processors that reported success (phases 2-4) or predictions made (phase 5). */
  done: number;
  total: number;
  /** Processors without a successful report (phases 2-4); empty for phase 5. */
  missing: string[];
  complete: boolean;
  failures: { processor: string; error: string | null }[];
  /** Phase 5: the batch status. */
  batchStatus?: string | null;
}

export type WaitOutcome = 'complete' | 'failed' | 'timeout';

export interface WaitResult {
  outcome: WaitOutcome;
  progress: PhaseProgress;
  elapsedMs: number;
  polls: number;
}

export interface WaitOptions {
  timeoutMs: number;
  /** Failures in run history count only from this moment on (the trigger's send time). */
  since: Date;
  /** First poll interval; it grows by half each poll up to `maxPollMs`. */
  pollMs?: number;
  maxPollMs?: number;
  /** Called after every poll whose progress differs from the last one. */
  onProgress?: (progress: PhaseProgress) => void;
}

export async function readProgress(
  ctx: LibContext,
  phase: RunnablePhase,
  gameDate: GameDate,
  since: Date,
): Promise<PhaseProgress> {
  const failures = (await failedRuns(ctx, phase, gameDate, since)).map((f) => ({
    processor: f.processor,
    error: f.error,
  }));
  if (phase === 5) {
    const batch = await readBatch(ctx, gameDate);
    if (batch.status === 'failed') {
      failures.push({
        processor: 'coordinator',
        error: `batch ${batch.batchId ?? ''} failed`.trim(),
      });
    }
    return {
      phase,
      gameDate,
      done: batch.completed,
      total: batch.expected,
      missing: [],
      complete: batch.status === 'complete',
      failures,
      batchStatus: batch.status,
    };
  }
  const gate = await readGate(ctx, phase, gameDate);
  return {
    phase,
    gameDate,
    done: gate.expected.length - gate.missing.length,
    total: gate.expected.length,
    missing: gate.missing,
    complete: gate.exists && gate.missing.length === 0,
    failures,
  };
}

export async function waitForPhase(
  ctx: LibContext,
  phase: RunnablePhase,
  gameDate: GameDate,
  options: WaitOptions,
): Promise<WaitResult> {
  const started = Date.now();
  const dog = startWatchdog({
    what: `waiting for phase ${phase} on ${gameDate}`,
    limitMs: options.timeoutMs,
  });
  const maxPoll = options.maxPollMs ?? 15_000;
  let interval = options.pollMs ?? 1_000;
  let polls = 0;
  let last = '';

  try {
    for (;;) {
      const progress = await readProgress(ctx, phase, gameDate, options.since);
      polls += 1;
      const key = JSON.stringify([
        progress.done,
        progress.total,
        progress.missing,
        progress.failures,
      ]);
      if (key !== last) options.onProgress?.(progress);
      last = key;

      const elapsedMs = Date.now() - started;
      if (progress.complete) return { outcome: 'complete', progress, elapsedMs, polls };
      if (progress.failures.length > 0) return { outcome: 'failed', progress, elapsedMs, polls };
      if (dog.expired) return { outcome: 'timeout', progress, elapsedMs, polls };

      await sleep(jitter(interval), dog.signal);
      interval = Math.min(Math.round(interval * 1.5), maxPoll);
    }
  } finally {
    dog.stop();
  }
}

/** ±20 %, so many waiters started together do not poll in lockstep. */
function jitter(ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}

/** Sleeps, or wakes early when the watchdog fires so the last poll happens at the limit. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
