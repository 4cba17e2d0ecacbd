import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { openLocalBackends } from '../../src/lib/backends/local/index.js';
import { BIN, ROOT, runCli, tempSandbox } from '../helpers/cli.js';
import { AWKWARD_PLAYERS, DATE, localContext, players, writeFeatures } from './fixtures.js';

const BATCH_SIZE = 25;
const KILLS = 10;

/** How many requests each player got so far, read from the sandbox's topic log. */
async function requestCounts(path: string): Promise<Map<string, number>> {
  const backends = openLocalBackends({ path });
  try {
    const counts = new Map<string, number>();
    for (const m of await backends.messages.list({ topic: 'prediction-request' })) {
      const player = String(m.data.player_lookup);
      counts.set(player, (counts.get(player) ?? 0) + 1);
    }
    return counts;
  } finally {
    await backends.close();
  }
}

function duplicates(counts: Map<string, number>): number {
  let extra = 0;
  for (const n of counts.values()) extra += n - 1;
  return extra;
}

/** Starts the republish command and SIGKILLs it after `afterMs`, wherever it is. */
function runAndKill(args: string[], env: Record<string, string>, afterMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, CI: '1', NO_COLOR: '1', ...env },
      stdio: 'ignore',
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), afterMs);
    child.on('error', reject);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

describe('republish after being killed', () => {
  it('requests every missing player after 10 SIGKILLs at random points, with at most one publish batch repeated per kill', async () => {
    const sandbox = tempSandbox('pipectl-coord-crash-');
    const config = join(dirname(sandbox), 'pipectl.config.json');
    writeFileSync(config, JSON.stringify({ coordinator: { publishBatchSize: BATCH_SIZE } }));
    const missing = [...players(450), ...AWKWARD_PLAYERS];
    const ctx = localContext(sandbox);
    await writeFeatures(ctx, DATE, missing);
    await ctx.backends.documents.set(`predictions/${DATE}`, {
      batch_id: 'batch-crash',
      correlation_id: 'corr-crash',
      status: 'running',
      expected: missing.length,
      completed: 0,
    });
    await ctx.backends.close();

    const env = { PIPECTL_SANDBOX: sandbox };
    const args = ['--config', config, 'coordinator', 'republish', '--date', DATE, '--yes'];
    // The rate stretches publishing over about 1.5 s so that kills land before, during and
    // after it; the delays cover start-up, planning, publishing and the ledger writes.
    const slow = [...args, '--rate', '300/s'];

    let before = 0;
    const kills: Array<{ afterMs: number; requested: number; newDuplicates: number }> = [];
    for (let i = 0; i < KILLS; i++) {
      const afterMs = 400 + Math.floor(Math.random() * 2000);
      await runAndKill(slow, env, afterMs);
      const counts = await requestCounts(sandbox);
      const now = duplicates(counts);
      kills.push({ afterMs, requested: counts.size, newDuplicates: now - before });
      expect(now - before, JSON.stringify(kills)).toBeLessThanOrEqual(BATCH_SIZE);
      before = now;
    }

    // The kills must have caught it mid-publish at least once, or the test proves nothing.
    const midPublish = kills.filter((k) => k.requested > 0 && k.requested < missing.length);
    expect(midPublish.length, JSON.stringify(kills)).toBeGreaterThan(0);
    if (process.env.PIPECTL_TEST_VERBOSE) console.log(JSON.stringify(kills));

    const last = await runCli([...args, '--json'], { env });
    expect(last.code, last.stderr).toBe(0);
    const counts = await requestCounts(sandbox);
    expect(counts.size).toBe(missing.length);
    for (const player of missing) expect(counts.get(player) ?? 0).toBeGreaterThanOrEqual(1);
    expect(duplicates(counts) - before).toBeLessThanOrEqual(BATCH_SIZE);
    expect(duplicates(counts)).toBeLessThanOrEqual(KILLS * BATCH_SIZE);

    const again = await runCli([...args, '--json'], { env });
    expect(again.events().at(-1)).toMatchObject({ published: 0, failed: 0 });
  }, 300_000);

  it('stops after the batch in flight on Ctrl-C, and the next run sends the rest with no duplicate', async () => {
    const sandbox = tempSandbox('pipectl-coord-sigint-');
    const config = join(dirname(sandbox), 'pipectl.config.json');
    writeFileSync(config, JSON.stringify({ coordinator: { publishBatchSize: BATCH_SIZE } }));
    const missing = players(200);
    const ctx = localContext(sandbox);
    await writeFeatures(ctx, DATE, missing);
    await ctx.backends.documents.set(`predictions/${DATE}`, {
      batch_id: 'batch-int',
      correlation_id: 'corr-int',
      status: 'running',
      expected: missing.length,
      completed: 0,
    });
    await ctx.backends.close();
    const env = { PIPECTL_SANDBOX: sandbox };
    const args = [
      '--config',
      config,
      'coordinator',
      'republish',
      '--date',
      DATE,
      '--yes',
      '--json',
    ];

    const interrupted = await new Promise<{ code: number | null; stdout: string }>(
      (resolve, reject) => {
        const child = spawn(process.execPath, [BIN, ...args, '--rate', '50/s'], {
          cwd: ROOT,
          env: { ...process.env, CI: '1', NO_COLOR: '1', ...env },
          stdio: ['ignore', 'pipe', 'ignore'],
        });
        let stdout = '';
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          // Interrupt as soon as the first batch is reported: the second is then in flight.
          if (stdout.includes('"event":"batch"') && !child.killed) child.kill('SIGINT');
        });
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stdout }));
      },
    );
    expect(interrupted.code).toBe(1);
    const events = interrupted.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const summary = events.at(-1)!;
    expect(summary).toMatchObject({ event: 'summary', interrupted: true, failed: 0 });
    expect(Number(summary.published)).toBeLessThan(missing.length);

    const rest = await runCli(args, { env });
    expect(rest.code).toBe(0);
    expect(rest.events().at(-1)).toMatchObject({
      published: missing.length - Number(summary.published),
    });
    const counts = await requestCounts(sandbox);
    expect(counts.size).toBe(missing.length);
    expect(duplicates(counts)).toBe(0);
  }, 120_000);
});
