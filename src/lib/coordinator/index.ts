/** Phase 5 coordinator state: the batch, its lease, per-player markers, the request message. */

export * from './batch.js';
export * from './lease.js';
export * from './messages.js';
export {
  COMPLETED_COLLECTION,
  batchPath,
  completedPath,
  leasePath,
  republishedCollection,
  republishedPath,
  type LeaseKind,
} from './paths.js';
export * from './reconstruct.js';
export * from './republish.js';
export * from './show.js';
