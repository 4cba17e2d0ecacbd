import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawn } from 'node:child_process';

import { beforeEach, describe, expect, it, vi } from 'vitest';

import { openLocalBackends } from '../../src/lib/backends/local/index.js';
import { acquireLease, readLease, startBatch } from '../../src/lib/coordinator/index.js';
import { runCli, tempSandbox, type CliResult } from '../helpers/cli.js';
import {
  AWKWARD_PLAYERS,
  DATE,
  localContext,
  players,
  writeFeatures,
  writePredictions,
} from './fixtures.js';

let sandbox: string;
const ALL = [...players(40), ...AWKWARD_PLAYERS];
const PREDICTED = ALL.filter((_, i) => i % 3 === 0);
const MISSING = ALL.filter((_, i) => i % 3 !== 0).sort();

function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli([...args, '--date', DATE], { env: { PIPECTL_SANDBOX: sandbox, ...env } });
}

async function requestsFor(path: string): Promise<Array<{ player: string; key: string }>> {
  const backends = openLocalBackends({ path });
  try {
    const messages = await backends.messages.list({ topic: 'prediction-request' });
    return messages.map((m) => ({
      player: String(m.data.player_lookup),
      key: m.attributes.idempotency_key!,
    }));
  } finally {
    await backends.close();
  }
}

beforeEach(async () => {
  sandbox = tempSandbox('pipectl-coord-cli-');
  const ctx = localContext(sandbox);
  await writeFeatures(ctx, DATE, ALL);
  await writeFeatures(ctx, DATE, ['not-ready-player'], { productionReady: false });
  await writePredictions(ctx, DATE, PREDICTED, { batchId: 'batch-1', correlationId: 'corr-1' });
  await ctx.backends.close();
});

// Every step runs the built CLI as a child process; a slow shared machine needs room.
vi.setConfig({ testTimeout: 60_000 });

describe('coordinator reconstruct', () => {
  it('reports expected, completed and missing players, with awkward names as plain data', async () => {
    const result = await cli(['coordinator', 'reconstruct', '--json']);
    expect(result.code).toBe(0);
    const report = result.json<{ expected: number; completed: number; missing: string[] }>();
    expect(report.expected).toBe(ALL.length);
    expect(report.completed).toBe(PREDICTED.length);
    expect(report.missing).toEqual(MISSING);
    for (const name of AWKWARD_PLAYERS.filter((p) => MISSING.includes(p))) {
      expect(report.missing).toContain(name);
    }
  });

  it('counts only predictions written since the given moment', async () => {
    const ctx = localContext(sandbox);
    await writePredictions(ctx, DATE, ['player-00001'], {
      createdAt: new Date('2030-01-01T00:00:00Z'),
    });
    await ctx.backends.close();
    const result = await cli([
      'coordinator',
      'reconstruct',
      '--since',
      '2029-12-31T00:00:00Z',
      '--json',
    ]);
    expect(result.json()).toMatchObject({ completed: 1, expected: ALL.length });
  });

  it('rebuilds the batch state with --write, and writes nothing with --dry-run', async () => {
    const dry = await cli(['coordinator', 'reconstruct', '--write', '--dry-run', '--json']);
    expect(dry.code).toBe(0);
    expect((await cli(['coordinator', 'show', '--json'])).json()).toMatchObject({ batch: null });

    const written = await cli(['coordinator', 'reconstruct', '--write', '--yes', '--json']);
    expect(written.code).toBe(0);
    const shown = (await cli(['coordinator', 'show', '--json'])).json();
    expect(shown).toMatchObject({
      batch: {
        batch_id: 'batch-1',
        correlation_id: 'corr-1',
        status: 'running',
        expected: ALL.length,
        completed: PREDICTED.length,
      },
      predictions_written: PREDICTED.length,
      stale: false,
    });
  });

  it('refuses bad input with exit 2 and writes nothing', async () => {
    expect((await cli(['coordinator', 'reconstruct', '--since', 'yesterday-ish'])).code).toBe(2);
    expect((await cli(['coordinator', 'republish', '--limit', '0', '--yes'])).code).toBe(2);
    expect((await cli(['coordinator', 'republish', '--rate', 'fast', '--yes'])).code).toBe(2);
    expect((await cli(['coordinator', 'republish', '--force', '--yes'])).code).toBe(2);
    expect(await requestsFor(sandbox)).toEqual([]);
  });
});

describe('coordinator republish', () => {
  it('requests exactly the missing players once, and a second run requests nothing', async () => {
    const first = await cli(['coordinator', 'republish', '--yes', '--json']);
    expect(first.code).toBe(0);
    const events = first.events<{
      event: string;
      published?: number;
      skipped?: number;
      failed?: number;
    }>();
    expect(events.at(-1)).toMatchObject({
      event: 'summary',
      published: MISSING.length,
      skipped: PREDICTED.length,
      failed: 0,
    });

    const requests = await requestsFor(sandbox);
    expect(requests.map((r) => r.player).sort()).toEqual(MISSING);
    for (const request of requests) {
      expect(request.key).toBe(`corr-1:prediction-request:${DATE}:${request.player}`);
    }

    const again = await cli(['coordinator', 'republish', '--yes', '--json']);
    expect(again.code).toBe(0);
    expect(again.events().at(-1)).toMatchObject({ published: 0, failed: 0 });
    expect(await requestsFor(sandbox)).toHaveLength(MISSING.length);
  });

  it('honours --players and --limit, and leaves the rest for the next run', async () => {
    const chosen = [AWKWARD_PLAYERS[0]!, MISSING[0]!, PREDICTED[0]!, 'nobody'];
    const some = await cli([
      'coordinator',
      'republish',
      '--players',
      chosen.join(','),
      '--yes',
      '--json',
    ]);
    expect(some.code).toBe(0);
    const requested = new Set(MISSING.filter((p) => chosen.includes(p)));
    expect(new Set((await requestsFor(sandbox)).map((r) => r.player))).toEqual(requested);

    const limited = await cli(['coordinator', 'republish', '--limit', '5', '--yes', '--json']);
    expect(limited.events().at(-1)).toMatchObject({ published: 5 });
    const rest = await cli(['coordinator', 'republish', '--yes', '--json']);
    expect(rest.events().at(-1)).toMatchObject({ published: MISSING.length - requested.size - 5 });
    const all = (await requestsFor(sandbox)).map((r) => r.player);
    expect(all.sort()).toEqual(MISSING);
  });

  it('refuses with exit 3 while a live coordinator holds the lease, unless --force with --reason', async () => {
    const ctx = localContext(sandbox);
    await acquireLease(ctx, DATE, 'coordinator-instance-7', 600);
    await ctx.backends.close();

    const refused = await cli(['coordinator', 'republish', '--yes']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/coordinator-instance-7/);
    expect(await requestsFor(sandbox)).toEqual([]);

    const forced = await cli([
      'coordinator',
      'republish',
      '--yes',
      '--force',
      '--reason',
      'instance dead',
    ]);
    expect(forced.code).toBe(0);
    expect(await requestsFor(sandbox)).toHaveLength(MISSING.length);
    const after = localContext(sandbox);
    expect((await readLease(after, DATE))?.holder).toBe('coordinator-instance-7');
    await after.backends.close();
  });

  it('lets one of two republish runs started together proceed and refuses the other with exit 3', async () => {
    const args = ['coordinator', 'republish', '--yes', '--json', '--rate', '5/s'];
    const [a, b] = await Promise.all([cli(args), cli(args)]);
    expect([a.code, b.code].sort()).toEqual([0, 3]);
    const loser = a.code === 3 ? a : b;
    expect(loser.stdout + loser.stderr).toMatch(/Another republish/);
    const requests = (await requestsFor(sandbox)).map((r) => r.player);
    expect(requests.sort()).toEqual(MISSING);
  }, 30_000);

  it('keeps a start out while it runs: the coordinator lease is held for the duration', async () => {
    const run = cli(['coordinator', 'republish', '--yes', '--rate', '5/s']);
    const ctx = localContext(sandbox);
    let decision: Awaited<ReturnType<typeof startBatch>> | undefined;
    for (let i = 0; i < 100 && decision === undefined; i++) {
      const lease = await readLease(ctx, DATE);
      if (lease && !lease.expired) {
        decision = await startBatch(ctx, DATE, {
          players: ALL,
          correlationId: 'c2',
          instance: 'backup-0600',
        });
      } else await new Promise((r) => setTimeout(r, 50));
    }
    await ctx.backends.close();
    expect(decision).toMatchObject({ started: false });
    expect((await run).code).toBe(0);
  }, 30_000);
});

describe('coordinator lock and unlock', () => {
  it('shows the lease, refuses to release a live one without --force, releases with --force and --reason', async () => {
    const ctx = localContext(sandbox);
    await acquireLease(ctx, DATE, 'coordinator-a', 600);
    await ctx.backends.close();

    const shown = await cli(['coordinator', 'lock', '--json']);
    expect(shown.json()).toMatchObject({ lease: { holder: 'coordinator-a', expired: false } });
    expect((await cli(['coordinator', 'unlock', '--yes'])).code).toBe(3);
    expect((await cli(['coordinator', 'unlock', '--yes', '--force'])).code).toBe(2);
    const released = await cli([
      'coordinator',
      'unlock',
      '--yes',
      '--force',
      '--reason',
      'dead',
      '--json',
    ]);
    expect(released.code).toBe(0);
    expect(released.json()).toMatchObject({ released: true, holder: 'coordinator-a' });
    expect((await cli(['coordinator', 'lock', '--json'])).json()).toMatchObject({ lease: null });
  });

  it('releases an expired lease without --force', async () => {
    const ctx = localContext(sandbox);
    await acquireLease(ctx, DATE, 'coordinator-b', 1);
    await ctx.backends.close();
    await new Promise((r) => setTimeout(r, 1100));
    const released = await cli(['coordinator', 'unlock', '--yes', '--json']);
    expect(released.code).toBe(0);
    expect(released.json()).toMatchObject({ released: true });
  });
});

describe('lease across OS processes', () => {
  it('gives the lease to exactly one of 6 processes contending at the same moment', async () => {
    const script = join(dirname(new URL(import.meta.url).pathname), 'lease-contender.mjs');
    const startAt = String(Date.now() + 1500);
    const outputs = await Promise.all(
      Array.from(
        { length: 6 },
        (_, i) =>
          new Promise<string>((resolve, reject) => {
            const child = spawn(process.execPath, [
              script,
              sandbox,
              `coordinator-${i}`,
              startAt,
              DATE,
            ]);
            let out = '';
            child.stdout.on('data', (d: Buffer) => (out += d.toString()));
            child.on('error', reject);
            child.on('close', (code) =>
              code === 0 ? resolve(out) : reject(new Error(`exit ${code}`)),
            );
          }),
      ),
    );
    const results = outputs.map(
      (o) => JSON.parse(o) as { holder: string; acquired: boolean; winner: string },
    );
    const winners = results.filter((r) => r.acquired);
    expect(winners).toHaveLength(1);
    expect(new Set(results.map((r) => r.winner))).toEqual(new Set([winners[0]!.holder]));
  }, 60_000);
});

export function writeConfig(dir: string, config: Record<string, unknown>): string {
  const path = join(dir, 'pipectl.config.json');
  writeFileSync(path, JSON.stringify(config));
  return path;
}
