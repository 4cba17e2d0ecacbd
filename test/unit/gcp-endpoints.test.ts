/**
 * The gcp Endpoints adapter against a loopback HTTP server: no credentials are looked up for
 * loopback URLs, non-2xx answers come back as data, and failures map to Unavailable.
 */

import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HttpEndpoints, LOOPBACK_TOKEN } from '../../src/lib/backends/gcp/endpoints.js';
import { Unavailable } from '../../src/lib/errors.js';
import { freePort } from '../harness/emulators.js';

describe('gcp Endpoints', () => {
  let server: Server;
  let base: string;
  const seen: { url: string; headers: IncomingHttpHeaders; body: string }[] = [];
  const noTokens = {
    idToken: async (): Promise<string> => {
      throw new Error('a loopback call must not ask for an ID token');
    },
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push({ url: req.url ?? '', headers: req.headers, body });
        if (req.url === '/slow') return void setTimeout(() => res.end('{}'), 2_000);
        if (req.url === '/busy') {
          res.writeHead(503, { 'content-type': 'application/json' });
          return void res.end(JSON.stringify({ error: 'batch already running' }));
        }
        if (req.url === '/text') return void res.end('started');
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ accepted: true }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('posts JSON with the stub bearer token to a loopback service and parses the answer', async () => {
    const endpoints = new HttpEndpoints(2_000, noTokens);
    const response = await endpoints.post(`${base}/start`, { game_date: '2026-12-01' });
    expect(response).toEqual({ status: 200, body: { accepted: true } });
    const request = seen.find((r) => r.url === '/start');
    expect(request?.headers.authorization).toBe(`Bearer ${LOOPBACK_TOKEN}`);
    expect(JSON.parse(request?.body ?? '')).toEqual({ game_date: '2026-12-01' });
  });

  it('returns a non-2xx answer as status and body instead of throwing', async () => {
    const endpoints = new HttpEndpoints(2_000, noTokens);
    expect(await endpoints.post(`${base}/busy`, {})).toEqual({
      status: 503,
      body: { error: 'batch already running' },
    });
    expect(await endpoints.post(`${base}/text`, {})).toEqual({ status: 200, body: 'started' });
  });

  it('asks for an ID token whose audience is the service origin for a remote URL', async () => {
    const audiences: string[] = [];
    const endpoints = new HttpEndpoints(300, {
      idToken: async (audience) => {
        audiences.push(audience);
        throw new Unavailable('no credentials here');
      },
    });
    const error = await endpoints
      .post('https://coordinator-abc.a.run.app/start', {})
      .catch((e: unknown) => e);
    expect(audiences).toEqual(['https://coordinator-abc.a.run.app']);
    expect(error).toBeInstanceOf(Unavailable);
  });

  it('maps a refused connection and a missed deadline to Unavailable', async () => {
    const endpoints = new HttpEndpoints(300, noTokens);
    const closed = `http://127.0.0.1:${await freePort()}/start`;
    const refused = await endpoints.post(closed, {}).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Unavailable);
    expect((refused as Unavailable).message).toContain('is unreachable');
    const slow = await endpoints.post(`${base}/slow`, {}).catch((e: unknown) => e);
    expect(slow).toBeInstanceOf(Unavailable);
    expect((slow as Unavailable).message).toContain('did not answer within 300 ms');
  });

  it('checks reachability without sending any request to the service', async () => {
    const endpoints = new HttpEndpoints(1_000, noTokens);
    const before = seen.length;
    await endpoints.ping(`${base}/start`);
    expect(seen.length).toBe(before);
    const closed = `http://127.0.0.1:${await freePort()}/start`;
    await expect(endpoints.ping(closed)).rejects.toBeInstanceOf(Unavailable);
  });
});
