import { describe, expect, it } from 'vitest';

import { DATE, sandbox } from './fixtures.js';

interface Drain {
  predictions_written: number;
  steps: { detail: string }[];
}

describe('phase commands on sandbox scenarios', { timeout: 120_000 }, () => {
  it('refuses phase 4 on a stuck orchestrator for its missing table; the bypass then drain reaches predictions', async () => {
    const sb = sandbox();
    const init = await sb.run([
      'sandbox',
      'init',
      '--scenario',
      'stuck-orchestrator',
      '--date',
      DATE,
      '--players',
      '30',
    ]);
    expect(init.code).toBe(0);

    const refused = await sb.run(['phase', 'run', '4', '--date', DATE, '--yes']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain(
      'team_defense_game_summary (TeamDefenseGameSummaryProcessor) has no rows',
    );

    const bypass = await sb.run([
      'phase',
      'bypass',
      '--phase',
      '4',
      '--date',
      DATE,
      '--reason',
      'drill',
      '--yes',
    ]);
    expect(bypass.code).toBe(0);
    const drain = await sb.run(['sandbox', 'drain', '--json']);
    expect(drain.code).toBe(0);
    const body = drain.json<Drain>();
    expect(body.predictions_written).toBe(30);
    expect(body.steps.map((s) => s.detail).join('\n')).toContain('30/30 predicted, batch complete');
  });

  it('refuses phase 5 and the emergency start while the batch runs (the 06:00 backup during a slow run)', async () => {
    const sb = sandbox();
    expect(
      (await sb.run(['sandbox', 'init', '--scenario', 'backup-during-run', '--date', DATE])).code,
    ).toBe(0);
    const run = await sb.run(['phase', 'run', '5', '--date', DATE, '--yes']);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/A Phase 5 batch is already running for 2026-01-15 \(300\/450/);
    const emergency = await sb.run([
      'phase',
      'emergency-start',
      '--date',
      DATE,
      '--reason',
      'x',
      '--yes',
    ]);
    expect(emergency.code).toBe(3);
  });

  it('re-runs phase 3 on a healthy date: the processors answer the trigger and the gate counts the repeat once', async () => {
    const sb = sandbox();
    expect(
      (
        await sb.run([
          'sandbox',
          'init',
          '--scenario',
          'healthy',
          '--date',
          DATE,
          '--players',
          '30',
        ])
      ).code,
    ).toBe(0);
    const run = await sb.run(['phase', 'run', '3', '--date', DATE, '--yes']);
    expect(run.code).toBe(0);
    const drain = await sb.run(['sandbox', 'drain', '--json']);
    const details = drain
      .json<Drain>()
      .steps.map((s) => s.detail)
      .join('\n');
    expect(details).toContain('phase 3 for 2026-01-15 (trigger): 5 succeeded');
    expect(details).toContain('(duplicate)');
    // A second trigger minutes after the first is refused by the trigger claim...
    const again = await sb.run(['phase', 'run', '3', '--date', DATE, '--yes']);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain('a second trigger now would run it twice');
    // ...unless the operator overrides it and says why.
    const wait = await sb.run([
      'phase',
      'run',
      '3',
      '--date',
      DATE,
      '--wait',
      '--timeout',
      '30s',
      '--force',
      '--reason',
      'second run on purpose',
      '--yes',
    ]);
    expect(wait.code).toBe(0);
    expect(wait.stderr).toContain('Phase 3 completed for 2026-01-15 (5/5 processors)');
  });
});
