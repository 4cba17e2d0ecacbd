/**
 * The pipeline's Cloud Run services as pipectl calls them: which profile key holds each base
 * URL, and one authenticated POST with a per-service breaker. On the local profile there are
 * no services: a call is recorded in the sandbox's topic log (the local Endpoints adapter does
 * that) under a fixed sandbox URL, and the simulated services serve it on `sandbox drain`.
 */

import type { LibContext } from '../context.js';
import { OperationFailed, Refusal, Unavailable, UserError } from '../errors.js';
import { breakerFor } from './breaker.js';

export type Service = 'coordinator' | 'phase3' | 'phase4' | 'featureStore';

/** Base URLs the sandbox's simulated services answer to: the host names the service. */
export const SANDBOX_SERVICE_URLS: Record<Service, string> = {
  coordinator: 'http://coordinator.sandbox',
  phase3: 'http://phase3.sandbox',
  phase4: 'http://phase4.sandbox',
  featureStore: 'http://feature-store.sandbox',
};

/** The full URL of `path` on `service`; bad input (exit 2) naming the key when unset. */
export function serviceUrl(config: LibContext['config'], service: Service, path: string): string {
  const base = config.profile.endpoints[service];
  if (base) return `${base.replace(/\/+$/, '')}${path}`;
  if (config.profile.backend === 'local') return `${SANDBOX_SERVICE_URLS[service]}${path}`;
  throw new UserError(`No URL for the ${service} service in profile ${config.profileName}`, {
    hint: `Set profiles.${config.profileName}.endpoints.${service} in ${config.source === 'built-in defaults' ? 'pipectl.config.json' : config.source} to its Cloud Run base URL.`,
  });
}

const TRANSIENT = new Set([502, 503, 504]);

export interface ServiceCall {
  url: string;
  status: number;
  body: unknown;
}

/**
 * POSTs `body`. The body carries an idempotency key, so a retry after a lost answer is safe and
 * the policy may retry. A 409 means the service refused because the work is already under way
 * (a batch is running): that is a refusal (exit 3), anything else non-2xx a failure.
 */
export async function callService(
  ctx: LibContext,
  service: Service,
  path: string,
  body: Record<string, unknown>,
): Promise<ServiceCall> {
  const url = serviceUrl(ctx.config, service, path);
  const origin = new URL(url).origin;
  const policy = breakerFor({
    name: `the ${service} service at ${origin}`,
    timeoutMs: ctx.config.profile.timeoutMs,
    hint: `Check that the ${service} service is deployed and that profiles.${ctx.config.profileName}.endpoints.${service} is right.`,
  });
  const response = await policy.execute(async () => {
    const answer = await ctx.backends.endpoints.post(url, body, {
      timeoutMs: ctx.config.profile.timeoutMs,
    });
    // Cloud Run answers 502-504 while an instance starts or is overloaded: transient, so the
    // policy retries it and its breaker counts it.
    if (TRANSIENT.has(answer.status)) {
      throw new Unavailable(`${url} answered ${answer.status}: ${summarise(answer.body)}`);
    }
    return answer;
  });

  if (response.status >= 200 && response.status < 300) return { url, ...response };
  const detail = summarise(response.body);
  if (response.status === 409) {
    throw new Refusal(`${url} refused the request (409): ${detail}`, {
      hint: 'The service says the work is already under way; wait for it, or check its state.',
    });
  }
  throw new OperationFailed(`${url} answered ${response.status}: ${detail}`, {
    hint: 'Read the service logs; the request carries an idempotency key, so re-running is safe.',
  });
}

function summarise(body: unknown): string {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return (text ?? '').slice(0, 300) || '(empty body)';
}
