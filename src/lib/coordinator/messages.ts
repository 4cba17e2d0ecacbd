/** The `prediction-request` message, one per player, as the Phase 5 workers consume it. */

import type { OutgoingMessage } from '../backends/ports.js';
import type { ResolvedConfig } from '../config.js';
import type { GameDate } from '../dates.js';
import { idempotencyKey } from '../ids.js';

export const PREDICTION_REQUEST_STAGE = 'prediction-request';

export interface PredictionRequestArgs {
  gameDate: GameDate;
  player: string;
  correlationId: string;
  batchId: string;
  /** 1 for the coordinator's fan-out; a republish counts up from the ledger. */
  attempt?: number;
}

/**
 * The idempotency key names the player but not the attempt, so a worker that already handled
 * the original request drops a republished duplicate instead of predicting twice.
 */
export function predictionRequestKey(args: Omit<PredictionRequestArgs, 'batchId'>): string {
  return idempotencyKey(args.correlationId, PREDICTION_REQUEST_STAGE, args.gameDate, args.player);
}

export function buildPredictionRequest(
  _config: ResolvedConfig,
  args: PredictionRequestArgs,
): OutgoingMessage {
  return {
    data: {
      game_date: args.gameDate,
      correlation_id: args.correlationId,
      player_lookup: args.player,
      batch_id: args.batchId,
      attempt: args.attempt ?? 1,
    },
    attributes: {
      game_date: args.gameDate,
      correlation_id: args.correlationId,
      player_lookup: args.player,
      idempotency_key: predictionRequestKey(args),
    },
  };
}
