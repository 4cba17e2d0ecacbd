import { describe, expect, it } from 'vitest';

import { runCli, tempSandbox } from '../helpers/cli.js';

const DATE = '2026-01-15';

interface Reconstruction {
  game_date: string;
  expected: number;
  completed: number;
  missing: string[];
}

describe('coordinator-crash scenario end to end', { timeout: 180_000 }, () => {
  it('reconstruct finds the missing players, republish requests them, drain completes the batch, reconstruct finds none', async () => {
    const env = { PIPECTL_SANDBOX: tempSandbox('pipectl-coord-scenario-') };
    const run = (args: string[]) => runCli(args, { env, timeoutMs: 120_000 });
    const init = await run(['sandbox', 'init', '--scenario', 'coordinator-crash', '--date', DATE]);
    expect(init.code, init.stderr).toBe(0);

    const shown = (await run(['coordinator', 'show', '--date', DATE, '--json'])).json<{
      batch: { status: string };
      stale: boolean;
      lease: { expired: boolean };
    }>();
    expect(shown).toMatchObject({
      batch: { status: 'running' },
      stale: true,
      lease: { expired: true },
    });

    const before = (
      await run(['coordinator', 'reconstruct', '--date', DATE, '--json'])
    ).json<Reconstruction>();
    expect(before.missing.length).toBeGreaterThan(0);
    expect(before.completed + before.missing.length).toBe(before.expected);

    const republish = await run(['coordinator', 'republish', '--date', DATE, '--yes', '--json']);
    expect(republish.code, republish.stderr).toBe(0);
    expect(republish.events().at(-1)).toMatchObject({
      event: 'summary',
      published: before.missing.length,
      failed: 0,
    });

    const drain = await run(['sandbox', 'drain', '--json']);
    expect(drain.code, drain.stderr).toBe(0);

    const after = (
      await run(['coordinator', 'reconstruct', '--date', DATE, '--json'])
    ).json<Reconstruction>();
    expect(after).toMatchObject({
      expected: before.expected,
      completed: before.expected,
      missing: [],
    });
    const state = (await run(['coordinator', 'show', '--date', DATE, '--json'])).json();
    expect(state).toMatchObject({
      batch: { status: 'complete', completed: before.expected, expected: before.expected },
      stale: false,
    });

    // A second republish after recovery has nothing to send.
    const again = await run(['coordinator', 'republish', '--date', DATE, '--yes', '--json']);
    expect(again.events().at(-1)).toMatchObject({ published: 0, failed: 0 });
  });
});
