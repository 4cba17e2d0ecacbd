/**
 * Phase triggers: the one message that starts a phase for a game date. The orchestrator gates,
 * `orchestrator reset --rerun`, `orchestrator retrigger` and `phase run` all build it here, so
 * every trigger carries the same fields and an idempotency key a consumer can deduplicate on.
 */

import type { OutgoingMessage } from './backends/ports.js';
import type { ResolvedConfig } from './config.js';
import type { GameDate } from './dates.js';
import { idempotencyKey } from './ids.js';

export type TriggeredPhase = 2 | 3 | 4 | 5;

/**
 * Merges the changed-entity lists of several reports: unique, without null or empty ids,
 * sorted. Above `cap` ids the downstream phase is better off reprocessing everything than
 * carrying a huge list, so the result becomes a full batch with no list.
 */
export function mergeEntities(
  lists: (readonly (string | null | undefined)[] | null | undefined)[],
  cap: number,
): { entities: string[]; fullBatch: boolean } {
  const unique = new Set<string>();
  for (const list of lists) {
    for (const entity of list ?? []) {
      if (typeof entity === 'string' && entity.length > 0) unique.add(entity);
    }
  }
  if (unique.size > cap) return { entities: [], fullBatch: true };
  return { entities: [...unique].sort(), fullBatch: false };
}

export interface PhaseTrigger {
  topic: string;
  message: OutgoingMessage;
  idempotencyKey: string;
}

export interface PhaseTriggerArgs {
  phase: TriggeredPhase;
  gameDate: GameDate;
  correlationId: string;
  entities: string[];
  fullBatch: boolean;
  /** Who asked: `orchestrator`, `manual`, `retrigger`, ... */
  source: string;
}

export function triggerTopic(
  config: Pick<ResolvedConfig, 'topics'>,
  phase: TriggeredPhase,
): string {
  return config.topics[`phase${phase}Trigger`];
}

/** The stage part of a trigger's idempotency key: `phase4-trigger`. */
export function triggerStage(phase: TriggeredPhase): string {
  return `phase${phase}-trigger`;
}

export function buildPhaseTrigger(
  config: Pick<ResolvedConfig, 'topics'>,
  args: PhaseTriggerArgs,
): PhaseTrigger {
  const key = idempotencyKey(args.correlationId, triggerStage(args.phase), args.gameDate);
  return {
    topic: triggerTopic(config, args.phase),
    idempotencyKey: key,
    message: {
      data: {
        game_date: args.gameDate,
        correlation_id: args.correlationId,
        phase: args.phase,
        // A full batch carries no list: the consumer reprocesses every entity.
        entities_changed: args.fullBatch ? [] : [...args.entities],
        is_full_batch: args.fullBatch,
        source: args.source,
      },
      attributes: {
        game_date: args.gameDate,
        correlation_id: args.correlationId,
        idempotency_key: key,
      },
    },
  };
}
