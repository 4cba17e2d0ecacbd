/**
 * Where the coordinator's shared state lives. Player names come from outside, so every id goes
 * through `docPath`, which rejects anything that would change the path's shape.
 */

import { docPath } from '../backends/paths.js';
import type { ResolvedConfig } from '../config.js';
import type { GameDate } from '../dates.js';

/**
 * Per-player completion markers under the batch document. Not configurable: they exist only
 * to make `recordPrediction` count each player once, and nothing outside this module reads them.
 */
export const COMPLETED_COLLECTION = 'completed';

type Collections = Pick<ResolvedConfig, 'collections'>;

export function batchPath(config: Collections, gameDate: GameDate): string {
  return docPath(config.collections.predictions, gameDate);
}

export function completedPath(config: Collections, gameDate: GameDate, player: string): string {
  return docPath(config.collections.predictions, gameDate, COMPLETED_COLLECTION, player);
}

export function republishedCollection(config: Collections, gameDate: GameDate): string {
  return `${batchPath(config, gameDate)}/${config.collections.republished}`;
}

export function republishedPath(config: Collections, gameDate: GameDate, player: string): string {
  return docPath(config.collections.predictions, gameDate, config.collections.republished, player);
}

/** Which lease: the coordinator's own, or the one that keeps two republish runs apart. */
export type LeaseKind = 'coordinator' | 'republish';

export function leasePath(config: Collections, gameDate: GameDate, kind: LeaseKind): string {
  return kind === 'coordinator'
    ? docPath(config.collections.coordinatorLock, gameDate)
    : docPath(config.collections.coordinatorLock, gameDate, 'republish', 'lease');
}
