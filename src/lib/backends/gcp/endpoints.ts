/**
 * The Endpoints port: JSON POSTs to Cloud Run services, with a Google ID token whose audience
 * is the service's URL. Services on loopback (the emulator profile, tests) get a fixed stub
 * token instead, so no credential is ever looked up on a machine that has none.
 */

import { connect } from 'node:net';

import { Unavailable, UserError } from '../../errors.js';
import { isConnectionError } from '../../resilience.js';
import type { EndpointResponse, Endpoints } from '../ports.js';
import { isLoopbackHost } from './common.js';

/** Sent to loopback services; they must not insist on a real token. */
export const LOOPBACK_TOKEN = 'pipectl-loopback';

/** The part of google-auth-library this adapter uses, so tests can hand in a stand-in. */
export interface IdTokenSource {
  idToken(audience: string): Promise<string>;
}

export class GoogleAuthIdTokens implements IdTokenSource {
  private readonly clients = new Map<string, Promise<{ idTokenProvider: IdTokenFetcher }>>();

  async idToken(audience: string): Promise<string> {
    let client = this.clients.get(audience);
    if (!client) {
      client = import('google-auth-library').then(({ GoogleAuth }) =>
        new GoogleAuth().getIdTokenClient(audience),
      );
      this.clients.set(audience, client);
    }
    try {
      return await (await client).idTokenProvider.fetchIdToken(audience);
    } catch (error) {
      this.clients.delete(audience);
      throw new Unavailable(`Cannot get a Google ID token for ${audience}`, {
        hint:
          'Run `gcloud auth application-default login` or use a service account that may invoke ' +
          'the service.',
        cause: error,
      });
    }
  }
}

interface IdTokenFetcher {
  fetchIdToken(audience: string): Promise<string>;
}

export class HttpEndpoints implements Endpoints {
  constructor(
    private readonly timeoutMs: number,
    private readonly tokens: IdTokenSource = new GoogleAuthIdTokens(),
  ) {}

  async post(
    url: string,
    body: Record<string, unknown>,
    options: { timeoutMs?: number } = {},
  ): Promise<EndpointResponse> {
    const target = parseUrl(url);
    const token = isLoopbackHost(target.hostname)
      ? LOOPBACK_TOKEN
      : await this.tokens.idToken(target.origin);
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;

    let response: Response;
    try {
      response = await fetch(target, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json',
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw fetchFailure(error, target, timeoutMs);
    }
    // Non-2xx answers are returned, not thrown: the caller decides what a 409 or 503 means.
    return { status: response.status, body: await readBody(response) };
  }

  /**
   * Checks without calling the service: opens and closes a TCP connection, and for a
   * service off this machine also obtains its ID token. A POST would trigger real work.
   */
  async ping(url: string): Promise<void> {
    const target = parseUrl(url);
    if (!isLoopbackHost(target.hostname)) await this.tokens.idToken(target.origin);
    const port = Number(target.port || (target.protocol === 'https:' ? 443 : 80));
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ host: target.hostname, port, timeout: this.timeoutMs });
      socket.once('connect', () => {
        socket.end();
        resolve();
      });
      socket.once('timeout', () => {
        socket.destroy();
        reject(
          new Unavailable(
            `${target.origin} did not accept a connection within ${this.timeoutMs} ms`,
          ),
        );
      });
      socket.once('error', (error) => reject(fetchFailure(error, target, this.timeoutMs)));
    });
  }
}

function parseUrl(url: string): URL {
  try {
    const parsed = new URL(url);
    if (parsed.protocol === 'http:' || parsed.protocol === 'https:') return parsed;
  } catch {
    // Reported below with the accepted form.
  }
  throw new UserError(`"${url}" is not an http(s) URL`, {
    hint: 'Endpoint URLs in the profile look like https://coordinator-xyz.a.run.app/start.',
  });
}

function fetchFailure(error: unknown, target: URL, timeoutMs: number): unknown {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return new Unavailable(`${target.origin} did not answer within ${timeoutMs} ms`, {
      hint: 'The request may still have been processed: check the service before repeating it.',
      cause: error,
    });
  }
  if (isConnectionError(error)) {
    return new Unavailable(`${target.origin} is unreachable`, {
      hint: 'Check the endpoint URL in the profile and that the service is deployed.',
      cause: error,
    });
  }
  return error;
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
