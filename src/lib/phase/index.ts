/** Running phases: guarded triggers, upstream checks, waiting, and the emergency paths. */

export * from './breaker.js';
export * from './claim.js';
export * from './deadline.js';
export * from './emergency.js';
export * from './run.js';
export * from './running.js';
export * from './services.js';
export * from './upstream.js';
export * from './verify-publish.js';
export * from './wait.js';
export * from './watchdog.js';
