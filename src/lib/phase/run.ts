/**
 * `phase run`: build one trigger for a phase and date, check the guards, send it the way the
 * profile says. Planning (guards included) only reads, so a dry run shows whether a run would
 * be refused; sending is the one write, and the trigger carries an idempotency key so a
 * consumer that sees it twice acts once.
 */

import type { LibContext } from '../context.js';
import { formatDuration, type GameDate } from '../dates.js';
import { Refusal, Unavailable, UserError } from '../errors.js';
import { correlationId as newCorrelationId } from '../ids.js';
import type { RunnablePhase } from '../pipeline.js';
import { buildPhaseTrigger, mergeEntities, type PhaseTrigger } from '../triggers.js';
import {
  claimTrigger,
  liveClaim,
  refusal as claimRefusal,
  TRIGGER_CLAIM_MS,
  type TriggerClaim,
} from './claim.js';
import { phaseRunning, RUNNING_WINDOW_MS, type RunningState } from './running.js';
import { callService, serviceUrl, type Service } from './services.js';
import { checkUpstream, describeUpstream, type UpstreamCheck } from './upstream.js';

export interface PhaseRunOptions {
  phase: RunnablePhase;
  gameDate: GameDate;
  /** Continue an existing correlation; a fresh `manual-<uuid>` otherwise. */
  correlationId?: string;
  /** Only these entities; none means a full batch. */
  entities?: string[];
  forceFullBatch?: boolean;
  /** Call the phase's service directly (HTTP) even when the profile triggers via Pub/Sub. */
  bypassOrchestrator?: boolean;
  skipDependencies?: boolean;
  /** Run even though a guard refused (the caller must record why). */
  force?: boolean;
  /** Who asked, carried in the message: `pipectl`, `runbook`, ... */
  source?: string;
  upstreamDeadlineMs?: number;
  now?: Date;
}

export type GuardName = 'recent-trigger' | 'not-running' | 'upstream';

export interface GuardOutcome {
  guard: GuardName;
  /** passed; refused (and not overridden); overridden by --force; skipped by an option. */
  state: 'passed' | 'refused' | 'overridden' | 'skipped';
  message: string;
  hint?: string;
}

export interface Delivery {
  via: 'pubsub' | 'http';
  /** The topic, or the full URL. */
  target: string;
  service?: Service;
  path?: string;
}

export interface PhaseRunPlan {
  phase: RunnablePhase;
  gameDate: GameDate;
  correlationId: string;
  entities: string[];
  fullBatch: boolean;
  delivery: Delivery;
  trigger: PhaseTrigger;
  guards: GuardOutcome[];
  running: RunningState;
  upstream: UpstreamCheck | null;
  /** A guard was overridden: the trigger claim is taken over at send time too. */
  force: boolean;
}

export interface PhaseRunSent {
  via: 'pubsub' | 'http';
  target: string;
  messageId: string | null;
  status: number | null;
  response: unknown;
}

/** The service and path that start each phase over HTTP. Phase 2 has none (see docs/phases.md). */
export const PHASE_ENDPOINTS: Record<3 | 4 | 5, { service: Service; path: string }> = {
  3: { service: 'phase3', path: '/reprocess' },
  4: { service: 'phase4', path: '/trigger-direct' },
  5: { service: 'coordinator', path: '/start' },
};

const ENTITY = /^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$/;

/**
 * Builds the trigger and runs the guards. Throws Refusal (exit 3) for the first guard that
 * says no unless `force`, and UserError (exit 2) for input that cannot be sent at all.
 */
export async function planPhaseRun(
  ctx: LibContext,
  options: PhaseRunOptions,
): Promise<PhaseRunPlan> {
  const { phase, gameDate } = options;
  const correlationId = newCorrelationId(options.correlationId);
  const { entities, fullBatch } = chooseEntities(ctx, options);
  const delivery = chooseDelivery(ctx.config, options);
  const trigger = buildPhaseTrigger(ctx.config, {
    phase,
    gameDate,
    correlationId,
    entities,
    fullBatch,
    source: options.source ?? 'pipectl',
  });
  if (delivery.via === 'pubsub') delivery.target = trigger.topic;

  const running = await phaseRunning(ctx, phase, gameDate, options.now ? { now: options.now } : {});
  const upstream = options.skipDependencies
    ? null
    : await checkUpstream(ctx, phase, gameDate, {
        ...(options.upstreamDeadlineMs ? { deadlineMs: options.upstreamDeadlineMs } : {}),
      });
  const claim = await liveClaim(ctx, phase, gameDate);
  const guards = [
    claimGuard(phase, gameDate, claim),
    runningGuard(phase, gameDate, running, options.now ?? new Date()),
    upstreamGuard(phase, gameDate, upstream),
  ];

  for (const guard of guards) {
    if (guard.state !== 'refused') continue;
    if (!options.force) throw new Refusal(guard.message, guard.hint ? { hint: guard.hint } : {});
    guard.state = 'overridden';
  }
  return {
    phase,
    gameDate,
    correlationId,
    entities,
    fullBatch,
    delivery,
    trigger,
    guards,
    running,
    upstream,
    force: options.force === true,
  };
}

export async function sendPhaseRun(ctx: LibContext, plan: PhaseRunPlan): Promise<PhaseRunSent> {
  const { delivery, trigger } = plan;
  // Checked again, atomically, in case another trigger was sent since the plan was made.
  await claimTrigger(ctx, {
    phase: plan.phase,
    gameDate: plan.gameDate,
    correlationId: plan.correlationId,
    force: plan.force,
  });
  if (delivery.via === 'http') {
    const call = await callService(ctx, delivery.service!, delivery.path!, {
      ...trigger.message.data,
      idempotency_key: trigger.idempotencyKey,
    });
    return {
      via: 'http',
      target: call.url,
      messageId: null,
      status: call.status,
      response: call.body,
    };
  }

  const [outcome] = await ctx.backends.bus.publish(trigger.topic, [trigger.message]);
  if (!outcome?.ok) {
    throw new Unavailable(
      `Publishing the phase ${plan.phase} trigger to ${trigger.topic} failed: ${outcome?.error ?? 'no outcome'}`,
      { hint: `Check that topic ${trigger.topic} exists; re-running is safe.` },
    );
  }
  return {
    via: 'pubsub',
    target: trigger.topic,
    messageId: outcome.messageId,
    status: null,
    response: null,
  };
}

function chooseEntities(
  ctx: LibContext,
  options: PhaseRunOptions,
): { entities: string[]; fullBatch: boolean } {
  const given = options.entities ?? [];
  for (const entity of given) {
    if (!ENTITY.test(entity)) {
      throw new UserError(`Entity id "${entity}" is not valid`, {
        hint:
          'Give ids such as lebronjames or LAL: letters, digits, ".", "_" or "-", ' +
          'comma-separated.',
      });
    }
  }
  // No list means "everything": an empty list that is not a full batch would tell the phase
  // that nothing changed, and it would process nothing.
  if (options.forceFullBatch || given.length === 0) return { entities: [], fullBatch: true };
  return mergeEntities([given], ctx.config.entityCap);
}

/**
 * How the trigger travels. Needs only the configuration, so a command can call it before it
 * opens any backend: a missing endpoint URL is bad input with nothing read or written.
 */
export function chooseDelivery(
  config: LibContext['config'],
  options: Pick<PhaseRunOptions, 'phase' | 'bypassOrchestrator'>,
): Delivery {
  const { phase } = options;
  if (phase === 2) {
    if (options.bypassOrchestrator) {
      throw new UserError('Phase 2 has no service endpoint to call directly', {
        hint: 'Drop --bypass-orchestrator: phase 2 is always triggered through its topic.',
      });
    }
    // Phase 2's processors are started by messages only; the profile has no endpoint for them.
    return { via: 'pubsub', target: '' };
  }
  if (options.bypassOrchestrator || config.profile.triggerVia === 'http') {
    const { service, path } = PHASE_ENDPOINTS[phase];
    // Resolved now so a missing URL is bad input (exit 2) before anything is read.
    return { via: 'http', target: serviceUrl(config, service, path), service, path };
  }
  return { via: 'pubsub', target: '' };
}

export function claimGuard(
  phase: RunnablePhase,
  gameDate: GameDate,
  claim: TriggerClaim | null,
): GuardOutcome {
  if (!claim) {
    return {
      guard: 'recent-trigger',
      state: 'passed',
      message: `No other trigger of phase ${phase} for ${gameDate} in the last ${TRIGGER_CLAIM_MS / 60_000} minutes`,
    };
  }
  const refused = claimRefusal({ phase, gameDate }, claim);
  return {
    guard: 'recent-trigger',
    state: 'refused',
    message: refused.message,
    ...(refused.hint ? { hint: refused.hint } : {}),
  };
}

export function runningGuard(
  phase: RunnablePhase,
  gameDate: GameDate,
  running: RunningState,
  now: Date,
): GuardOutcome {
  const override = 'pass --force --reason "..." to run anyway';
  if (running.batch) {
    const { batch } = running;
    const ago = batch.updatedAt
      ? `${formatDuration(now.getTime() - batch.updatedAt.getTime())} ago`
      : 'at an unknown time';
    if (batch.stale) {
      return {
        guard: 'not-running',
        state: 'refused',
        message: `The Phase 5 batch for ${gameDate} is marked running but last progressed ${ago} (${batch.completed}/${batch.expected} predictions)`,
        hint: `The coordinator may have died: run \`pipectl coordinator reconstruct --date ${gameDate}\`, or ${override}.`,
      };
    }
    return {
      guard: 'not-running',
      state: 'refused',
      message: `A Phase 5 batch is already running for ${gameDate} (${batch.completed}/${batch.expected} predictions, updated ${ago})`,
      hint: `Starting another would fan the date out twice. Wait for it (\`pipectl status --date ${gameDate}\`), or ${override}.`,
    };
  }
  if (running.runs.length > 0) {
    const names = [...new Set(running.runs.map((r) => r.processor))];
    const first = running.runs[0]!;
    return {
      guard: 'not-running',
      state: 'refused',
      message:
        `Phase ${phase} is already running for ${gameDate}: ${names.length} processor(s) started within ` +
        `the last ${formatDuration(RUNNING_WINDOW_MS)} (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', ...' : ''}; ` +
        `first at ${first.startedAt.toISOString()}, correlation ${first.correlationId ?? 'unknown'})`,
      hint: `Wait for it to finish (\`pipectl status --date ${gameDate}\`), or, if those runs are dead, ${override}.`,
    };
  }
  return {
    guard: 'not-running',
    state: 'passed',
    message: `Phase ${phase} is not running for ${gameDate}`,
  };
}

function upstreamGuard(
  phase: RunnablePhase,
  gameDate: GameDate,
  upstream: UpstreamCheck | null,
): GuardOutcome {
  if (upstream === null) {
    return {
      guard: 'upstream',
      state: 'skipped',
      message: 'Upstream check skipped (--skip-dependencies)',
    };
  }
  if (upstream.ready) {
    const message =
      upstream.tables.length === 0
        ? `Phase ${phase} reads scraper files; no upstream table to check`
        : `Upstream data for phase ${phase} on ${gameDate}: ${upstream.tables.length} tables with fresh rows`;
    return { guard: 'upstream', state: 'passed', message };
  }
  const problems = describeUpstream(upstream);
  const shown = problems.slice(0, 5).join('; ');
  const more = problems.length > 5 ? `; and ${problems.length - 5} more` : '';
  const lead = upstream.timedOut
    ? `The upstream check for phase ${phase} on ${gameDate} did not finish in time, so the upstream counts as not ready`
    : `Upstream data for phase ${phase} on ${gameDate} is not ready`;
  return {
    guard: 'upstream',
    state: 'refused',
    message: `${lead}: ${shown}${more}`,
    hint: `Run phase ${phase - 1} first (\`pipectl phase run ${phase - 1} --date ${gameDate} --wait\`), or pass --skip-dependencies --reason "..." if you know the data is there.`,
  };
}
