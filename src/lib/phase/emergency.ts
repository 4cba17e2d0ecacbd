/**
 * The emergency paths, for when the orchestrators (or Pub/Sub) are down and the SLA is near:
 * - the coordinator's `/emergency-start`, which starts Phase 5 without its validation;
 * - the direct Phase 4 run (`/trigger-direct`) and the feature store's `/run-direct`, which skip
 *   the Phase 3 -> 4 orchestrator.
 * They still refuse to start what is already running (a second fan-out is the very incident
 * they are used to recover from) unless forced, and every request carries an idempotency key.
 */

import type { LibContext } from '../context.js';
import type { GameDate } from '../dates.js';
import { Refusal } from '../errors.js';
import { correlationId as newCorrelationId, idempotencyKey } from '../ids.js';
import { runningGuard, type GuardOutcome } from './run.js';
import { phaseRunning, type RunningState } from './running.js';
import { callService, serviceUrl, type Service, type ServiceCall } from './services.js';

export interface ServiceRequest {
  service: Service;
  path: string;
  url: string;
  body: Record<string, unknown>;
}

export interface EmergencyPlan {
  gameDate: GameDate;
  correlationId: string;
  requests: ServiceRequest[];
  guard: GuardOutcome;
  running: RunningState;
}

export interface EmergencyResult {
  sent: (ServiceRequest & { status: number; response: unknown })[];
}

interface Common {
  gameDate: GameDate;
  correlationId?: string;
  force?: boolean;
  reason?: string | null;
  now?: Date;
}

export async function planEmergencyStart(
  ctx: LibContext,
  options: Common & { minPlayers: number },
): Promise<EmergencyPlan> {
  const correlationId = newCorrelationId(options.correlationId);
  const request = serviceRequest(ctx, 'coordinator', '/emergency-start', {
    ...base(options.gameDate, correlationId, 'emergency-start', options.reason),
    min_players: options.minPlayers,
    skip_validation: true,
  });
  return guarded(ctx, 5, options, correlationId, [request]);
}

export type BypassStep = 'phase4' | 'feature-store';

export async function planBypass(
  ctx: LibContext,
  options: Common & { steps: BypassStep[] },
): Promise<EmergencyPlan> {
  const correlationId = newCorrelationId(options.correlationId);
  const requests = options.steps.map((step) =>
    step === 'phase4'
      ? serviceRequest(ctx, 'phase4', '/trigger-direct', {
          ...base(options.gameDate, correlationId, 'phase4-direct', options.reason),
          phase: 4,
          entities_changed: [],
          is_full_batch: true,
          bypass_orchestrator: true,
        })
      : serviceRequest(ctx, 'featureStore', '/run-direct', {
          ...base(options.gameDate, correlationId, 'feature-store-direct', options.reason),
          bypass_orchestrator: true,
        }),
  );
  return guarded(ctx, 4, options, correlationId, requests);
}

/**
 * Sends the requests in order and stops at the first that fails: the feature store reads what
 * Phase 4 writes, so running it after a failed Phase 4 request would build features from old
 * rows. What was sent before the failure is in the error's message.
 */
export async function sendEmergency(
  ctx: LibContext,
  plan: EmergencyPlan,
): Promise<EmergencyResult> {
  const sent: EmergencyResult['sent'] = [];
  for (const request of plan.requests) {
    let call: ServiceCall;
    try {
      call = await callService(ctx, request.service, request.path, request.body);
    } catch (error) {
      if (sent.length > 0 && error instanceof Error) {
        error.message += ` (already sent: ${sent.map((s) => s.path).join(', ')})`;
      }
      throw error;
    }
    sent.push({ ...request, status: call.status, response: call.body });
  }
  return { sent };
}

async function guarded(
  ctx: LibContext,
  phase: 4 | 5,
  options: Common,
  correlationId: string,
  requests: ServiceRequest[],
): Promise<EmergencyPlan> {
  const now = options.now ?? new Date();
  const running = await phaseRunning(ctx, phase, options.gameDate, { now });
  const guard = runningGuard(phase, options.gameDate, running, now);
  if (guard.state === 'refused') {
    if (!options.force) throw new Refusal(guard.message, guard.hint ? { hint: guard.hint } : {});
    guard.state = 'overridden';
  }
  return { gameDate: options.gameDate, correlationId, requests, guard, running };
}

function serviceRequest(
  ctx: LibContext,
  service: Service,
  path: string,
  body: Record<string, unknown>,
): ServiceRequest {
  return { service, path, url: serviceUrl(ctx.config, service, path), body };
}

function base(
  gameDate: GameDate,
  correlationId: string,
  stage: string,
  reason: string | null | undefined,
): Record<string, unknown> {
  return {
    game_date: gameDate,
    correlation_id: correlationId,
    idempotency_key: idempotencyKey(correlationId, stage, gameDate),
    source: 'pipectl',
    reason: reason ?? null,
  };
}
