import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';

import type { Endpoints, Warehouse } from '../../src/lib/backends/ports.js';
import type { LibEvent } from '../../src/lib/context.js';
import { OperationFailed, Refusal, Unavailable } from '../../src/lib/errors.js';
import {
  breakerFor,
  checkDone,
  checkUpstream,
  planPhaseRun,
  resetBreakers,
  sendPhaseRun,
  startWatchdog,
  verifyThenPublish,
  withWatchdog,
} from '../../src/lib/phase/index.js';
import { PREDICTION_COLUMNS } from '../../src/lib/schema.js';
import { DATE, sandbox, writePhaseOutput } from './fixtures.js';

afterEach(() => resetBreakers());

const never = () => new Promise<never>(() => undefined);

describe('dependency check deadline', { timeout: 30_000 }, () => {
  it('answers "not done" on a timeout, logs a warning, and never runs past its deadline', async () => {
    const events: LibEvent[] = [];
    let aborted = false;
    const answer = await checkDone(
      { log: (e) => events.push(e) },
      {
        what: 'phase 3 output for 2026-01-15',
        deadlineMs: 50,
        check: (signal) => {
          signal.addEventListener('abort', () => (aborted = true));
          return never();
        },
      },
    );
    expect(answer).toMatchObject({ done: false, timedOut: true });
    expect(aborted).toBe(true);
    expect(events).toEqual([
      expect.objectContaining({
        level: 'warn',
        message: expect.stringContaining('treating the work as not done'),
      }),
    ]);
  });

  it('passes a real answer through, and a failing check is an error, not a timeout', async () => {
    expect(await checkDone({}, { what: 'x', deadlineMs: 1000, check: async () => true })).toEqual({
      done: true,
      timedOut: false,
    });
    await expect(
      checkDone(
        {},
        { what: 'x', deadlineMs: 1000, check: async () => Promise.reject(new Error('bad SQL')) },
      ),
    ).rejects.toThrow('bad SQL');
  });

  it('treats the upstream as not ready when the warehouse does not answer before the deadline', async () => {
    const sb = sandbox();
    await sb.with(async (ctx) => {
      await writePhaseOutput(ctx, 2, DATE);
      const events: LibEvent[] = [];
      // Only the upstream tables hang; run history (the other guard) answers.
      const real = ctx.backends.warehouse;
      const hanging: Warehouse = {
        ...real,
        query: ((sql: string, ...rest: []) =>
          sql.includes('nba_raw.') ? never() : real.query(sql, ...rest)) as Warehouse['query'],
      };
      const slow = {
        ...ctx,
        backends: { ...ctx.backends, warehouse: hanging },
        log: (e: LibEvent) => events.push(e),
      };

      const check = await checkUpstream(slow, 3, DATE, { deadlineMs: 100 });
      expect(check).toMatchObject({ ready: false, timedOut: true });
      expect(events.some((e) => e.level === 'warn')).toBe(true);

      // The same data with a warehouse that answers is ready: the timeout alone decided.
      expect(await checkUpstream(ctx, 3, DATE, { deadlineMs: 10_000 })).toMatchObject({
        ready: true,
      });

      // phase run refuses on that answer, with a message that says why.
      await expect(
        planPhaseRun(slow, { phase: 3, gameDate: DATE, upstreamDeadlineMs: 100 }),
      ).rejects.toThrow(/did not finish in time, so the upstream counts as not ready/);
    });
  });
});

describe('verify then publish', { timeout: 30_000 }, () => {
  it('publishes nothing and fails when the warehouse holds fewer rows than announced', async () => {
    const sb = sandbox();
    await sb.with(async (ctx) => {
      const table = ctx.config.tables.predictions;
      await ctx.backends.warehouse.ensureTable(table, PREDICTION_COLUMNS);
      await ctx.backends.warehouse.insert(
        table,
        ['a', 'b', 'c'].map((player_lookup) => ({
          game_date: DATE,
          player_lookup,
          predicted_points: 20,
          batch_id: 'b1',
          correlation_id: 'c1',
          created_at: new Date(),
        })),
        PREDICTION_COLUMNS,
      );
      const request = {
        table,
        gameDate: DATE,
        match: { column: 'correlation_id', value: 'c1' },
        topic: 'prediction-complete',
        message: {
          data: { game_date: DATE, correlation_id: 'c1' },
          attributes: { game_date: DATE },
        },
      };

      const short = verifyThenPublish(ctx, { ...request, expected: 5 });
      await expect(short).rejects.toBeInstanceOf(OperationFailed);
      await expect(short).rejects.toThrow(/holds 3 of the 5 rows.*nothing was published/);
      // Rows of another correlation do not count toward this announcement.
      await expect(
        verifyThenPublish(ctx, {
          ...request,
          match: { column: 'correlation_id', value: 'other' },
          expected: 1,
        }),
      ).rejects.toBeInstanceOf(OperationFailed);
      expect(await ctx.backends.messages.list({ topic: 'prediction-complete' })).toHaveLength(0);

      const done = await verifyThenPublish(ctx, { ...request, expected: 3 });
      expect(done.confirmed).toBe(3);
      expect(await ctx.backends.messages.list({ topic: 'prediction-complete' })).toHaveLength(1);
    });
  });
});

describe('watchdog', () => {
  it('fires its callback once and aborts work that runs past the limit', async () => {
    const fired: number[] = [];
    const work = withWatchdog(
      { what: 'a fan-out', limitMs: 50, onExpire: (ms) => fired.push(ms) },
      never,
    );
    await expect(work).rejects.toThrow('a fan-out ran past its limit');
    expect(fired).toHaveLength(1);
    expect(fired[0]).toBeGreaterThanOrEqual(40);
  });

  it('stays quiet when the work finishes in time', async () => {
    let fired = false;
    const result = await withWatchdog(
      { what: 'x', limitMs: 1000, onExpire: () => (fired = true) },
      async () => 7,
    );
    expect(result).toBe(7);
    const dog = startWatchdog({ what: 'y', limitMs: 30, onExpire: () => (fired = true) });
    dog.stop();
    await new Promise((r) => setTimeout(r, 60));
    expect(fired).toBe(false);
    expect(dog.signal.aborted).toBe(false);
  });
});

describe('circuit breaker per backend', () => {
  it('opens after repeated transient failures and then fails fast without calling the backend', async () => {
    let calls = 0;
    const failing = async () => {
      calls += 1;
      throw new Unavailable('503');
    };
    const breaker = breakerFor({
      name: 'svc-a',
      timeoutMs: 5_000,
      retries: 0,
      breakerThreshold: 3,
    });
    for (let i = 0; i < 3; i++)
      await expect(breaker.execute(failing)).rejects.toBeInstanceOf(Unavailable);
    expect(calls).toBe(3);
    await expect(breaker.execute(failing)).rejects.toThrow(/failed repeatedly/);
    expect(calls).toBe(3);

    // Another backend has its own breaker; the same name shares it.
    expect(await breakerFor({ name: 'svc-b', timeoutMs: 5_000 }).execute(async () => 'ok')).toBe(
      'ok',
    );
    expect(breakerFor({ name: 'svc-a', timeoutMs: 1 })).toBe(breaker);
  });

  it('does not retry or count a refusal', async () => {
    let calls = 0;
    const breaker = breakerFor({ name: 'svc-c', timeoutMs: 5_000, breakerThreshold: 1 });
    const refuse = async () => {
      calls += 1;
      throw new Refusal('409');
    };
    await expect(breaker.execute(refuse)).rejects.toBeInstanceOf(Refusal);
    await expect(breaker.execute(refuse)).rejects.toBeInstanceOf(Refusal);
    expect(calls).toBe(2);
  });
});

// The authenticated HTTP adapter comes with the Google backends; the path is a variable so this
// file compiles before they are merged, and the test runs as soon as they are.
const GCP_ENDPOINTS = '../../src/lib/backends/gcp/endpoints.js';
const gcpEndpoints = (await import(GCP_ENDPOINTS).catch(() => null)) as {
  HttpEndpoints: new (timeoutMs: number) => Endpoints;
} | null;

describe.skipIf(gcpEndpoints === null)(
  'trigger over HTTP to a loopback service',
  { timeout: 30_000 },
  () => {
    it('POSTs the trigger to /trigger-direct with a bearer token and the idempotency key', async () => {
      const received: { path: string; auth: string | undefined; body: Record<string, unknown> }[] =
        [];
      const server = createServer(async (req: IncomingMessage, res) => {
        let text = '';
        for await (const chunk of req) text += String(chunk);
        received.push({
          path: req.url ?? '',
          auth: req.headers.authorization,
          body: JSON.parse(text),
        });
        res.writeHead(req.url === '/busy/trigger-direct' ? 409 : 200, {
          'content-type': 'application/json',
        });
        res.end(JSON.stringify({ accepted: true }));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as AddressInfo).port;
      try {
        const sb = sandbox({
          profiles: {
            local: { triggerVia: 'http', endpoints: { phase4: `http://127.0.0.1:${port}` } },
          },
        });
        await sb.with(async (ctx) => {
          await writePhaseOutput(ctx, 3, DATE);
          const http = {
            ...ctx,
            backends: { ...ctx.backends, endpoints: new gcpEndpoints!.HttpEndpoints(5_000) },
          };
          const plan = await planPhaseRun(http, {
            phase: 4,
            gameDate: DATE,
            correlationId: 'h1',
            entities: ['x'],
          });
          const sent = await sendPhaseRun(http, plan);
          expect(sent).toMatchObject({
            via: 'http',
            status: 200,
            target: `http://127.0.0.1:${port}/trigger-direct`,
          });
        });
        expect(received).toHaveLength(1);
        expect(received[0]!.path).toBe('/trigger-direct');
        expect(received[0]!.auth).toMatch(/^Bearer \S+/);
        expect(received[0]!.body).toMatchObject({
          game_date: DATE,
          correlation_id: 'h1',
          idempotency_key: 'h1:phase4-trigger:2026-01-15',
          entities_changed: ['x'],
        });
      } finally {
        server.close();
      }
    });
  },
);
