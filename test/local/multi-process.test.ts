import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { openLocalBackends } from '../../src/lib/backends/local/index.js';
import { tempSandbox } from '../helpers/cli.js';

const WORKER = join(import.meta.dirname, 'worker.mjs');

function worker(args: string[], onStdout?: (text: string) => void) {
  const child = spawn(process.execPath, [WORKER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => onStdout?.(d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise<{ code: number; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code: code ?? -1, stderr })),
  );
}

describe('one sandbox file, several pipectl processes', () => {
  it('loses no update when 3 processes each run 15 read-modify-write transactions at once', async () => {
    const file = tempSandbox();
    const results = await Promise.all([1, 2, 3].map(() => worker([file, 'increment', '15'])));
    expect(results.map((r) => r.code)).toEqual([0, 0, 0]);

    const backends = openLocalBackends({ path: file });
    expect((await backends.documents.get('counters/shared')).data).toEqual({ count: 45 });
    await backends.close();
  }, 30_000);

  it('waits for the file, then fails with a clear message naming the holder after its deadline', async () => {
    const file = tempSandbox();
    let holding: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (holding = resolve));
    const holder = worker([file, 'hold', '4000'], (text) => text.includes('holding') && holding());
    await held;

    const blocked = await worker([file, 'read', '500']);
    expect(blocked.code).toBe(4);
    expect(blocked.stderr).toMatch(/held by another process \(PID \d+\) for more than 0\.5s/);

    const patient = await worker([file, 'read', '20000']);
    expect(patient.code).toBe(0);
    expect((await holder).code).toBe(0);
  }, 30_000);
});
