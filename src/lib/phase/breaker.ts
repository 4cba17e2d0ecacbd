/**
 * One resilience policy (deadline, retry with backoff and jitter, circuit breaker) per
 * backend, kept for the life of the process. A service or a runbook loop that calls the same
 * Cloud Run endpoint many times shares one breaker, so once the endpoint keeps failing the
 * calls stop at once with one clear "unreachable" error instead of a minute of timeouts each.
 * The policy itself is the one the Google adapters use (`createPolicy`).
 */

import { createPolicy, type PolicyOptions, type ResiliencePolicy } from '../resilience.js';

const policies = new Map<string, ResiliencePolicy>();

/** The policy for `options.name`, created on first use with these options. */
export function breakerFor(options: PolicyOptions): ResiliencePolicy {
  let policy = policies.get(options.name);
  if (!policy) {
    policy = createPolicy(options);
    policies.set(options.name, policy);
  }
  return policy;
}

/** Forgets every breaker (tests, or a long-lived service reloading its configuration). */
export function resetBreakers(): void {
  policies.clear();
}
