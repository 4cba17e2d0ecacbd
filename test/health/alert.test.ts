import { mkdirSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, inject, it } from 'vitest';

import { runCli, tempSandbox } from '../helpers/cli.js';
import { AFTER_DEADLINE, DATE, writeDay } from './fixtures.js';

interface Received {
  body: { text: string; blocks: { type: string; text?: { text: string } }[] };
}

/** A webhook on loopback that answers each request with the next status in `statuses`. */
async function webhook(
  statuses: number[],
): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      received.push({ body: JSON.parse(text) as Received['body'] });
      res.statusCode = statuses[received.length - 1] ?? 200;
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  servers.push(server);
  return { url: `http://127.0.0.1:${address.port}/hooks/T0/B0/x`, received, server };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  await new Promise((resolve) => server.close(resolve));
  return address.port;
}

/** A sandbox path DuckDB cannot open (it is a directory): the warehouse is unreachable. */
function unreachableSandbox(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'pipectl-down-')), 'sandbox.duckdb');
  mkdirSync(dir);
  return dir;
}

describe('health alerts', () => {
  it('alerts with every check failed when the warehouse is down, then exits 4', async () => {
    const hook = await webhook([200]);
    const result = await runCli(['health', '--date', DATE, '--json', '--alert-webhook', hook.url], {
      env: { PIPECTL_SANDBOX: unreachableSandbox() },
    });
    expect(result.code).toBe(4);
    expect(hook.received).toHaveLength(1);
    const { text, blocks } = hook.received[0]!.body;
    expect(text).toContain('9 of 9 checks failed');
    expect(text).toMatch(/\(warehouse( and documents)? unreachable\)/);
    const sections = blocks.filter((b) => b.type === 'section').map((b) => b.text!.text);
    expect(sections.some((s) => s.startsWith('*prediction-quality*'))).toBe(true);
    expect(sections.some((s) => s.startsWith('*stale-lease*'))).toBe(true);

    const report = result.json<{
      unavailable: string[];
      alert: { sent: boolean };
      checks: unknown[];
    }>();
    expect(report.unavailable).toContain('warehouse');
    expect(report.alert.sent).toBe(true);
  });

  it('alerts and exits 4 on the emulator profile when its BigQuery endpoint is a closed port', async () => {
    const hook = await webhook([200]);
    const closed = await closedPort();
    // The document store stays up when the harness runs the Firestore emulator; otherwise it
    // is down too, and the alert must say so as well.
    const firestore = inject('firestoreHost') ?? `127.0.0.1:${closed}`;
    const result = await runCli(
      ['--profile', 'emulator', 'health', '--date', DATE, '--json', '--alert-webhook', hook.url],
      {
        env: {
          PIPECTL_BIGQUERY_ENDPOINT: `http://127.0.0.1:${closed}`,
          FIRESTORE_EMULATOR_HOST: firestore,
          PUBSUB_EMULATOR_HOST: `127.0.0.1:${closed}`,
        },
      },
    );
    expect(result.code).toBe(4);
    const report = result.json<{
      unavailable: string[];
      checks: { name: string; value: string }[];
    }>();
    expect(report.unavailable).toContain('warehouse');
    expect(report.checks.find((c) => c.name === 'zero-changes')!.value).toBe(
      'warehouse unreachable',
    );
    expect(hook.received).toHaveLength(1);
    expect(hook.received[0]!.body.text).toContain('warehouse');
    expect(hook.received[0]!.body.text).toContain('on emulator');
  });

  it('retries a webhook that answers 503, with backoff, until it takes the alert', async () => {
    const hook = await webhook([503, 502, 200]);
    const result = await runCli(['health', '--date', DATE, '--json', '--alert-webhook', hook.url], {
      env: { PIPECTL_SANDBOX: unreachableSandbox() },
    });
    expect(result.code).toBe(4);
    expect(hook.received).toHaveLength(3);
    expect(result.json<{ alert: { sent: boolean; attempts: number } }>().alert).toMatchObject({
      sent: true,
      attempts: 3,
    });
  });

  it('does not retry a webhook that refuses the message (4xx) and says so on stderr', async () => {
    const hook = await webhook([404, 200]);
    const result = await runCli(['health', '--date', DATE, '--alert-webhook', hook.url], {
      env: { PIPECTL_SANDBOX: unreachableSandbox() },
    });
    expect(result.code).toBe(4);
    expect(hook.received).toHaveLength(1);
    expect(result.stderr).toContain('The alert was not delivered after 1 attempts: HTTP 404');
  });

  it('posts only the failed checks of a reachable backend, and nothing when all pass', async () => {
    const broken = tempSandbox('pipectl-health-alert-');
    await writeDay(broken, { changed: 0 });
    const hook = await webhook([200]);
    const failed = await runCli(
      ['health', '--date', DATE, '--as-of', AFTER_DEADLINE, '--alert-webhook', hook.url],
      { env: { PIPECTL_SANDBOX: broken } },
    );
    expect(failed.code).toBe(1);
    expect(hook.received).toHaveLength(1);
    const sections = hook.received[0]!.body.blocks.filter((b) => b.type === 'section').map(
      (b) => b.text!.text,
    );
    expect(sections.filter((s) => s.startsWith('*'))).toHaveLength(1);
    expect(sections.at(-1)).toContain('*zero-changes*');
    expect(sections.at(-1)).toContain('pipectl runbook run zero-changes');

    const healthy = tempSandbox('pipectl-health-alert-');
    await writeDay(healthy);
    const passed = await runCli(
      ['health', '--date', DATE, '--as-of', AFTER_DEADLINE, '--alert-webhook', hook.url],
      { env: { PIPECTL_SANDBOX: healthy } },
    );
    expect(passed.code).toBe(0);
    expect(hook.received).toHaveLength(1);
  });

  it('refuses a webhook that is not an http(s) URL with exit 2', async () => {
    const result = await runCli(['health', '--date', DATE, '--alert-webhook', 'ftp://x'], {
      env: { PIPECTL_SANDBOX: tempSandbox() },
    });
    expect(result.code).toBe(2);
  });
});
