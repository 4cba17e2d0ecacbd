/** `pipectl demo` runs a drill end to end through spawned CLI processes and ends healthy. */

import { describe, expect, it } from 'vitest';

import { runCli } from '../helpers/cli.js';

interface DemoJson {
  drills: {
    scenario: string;
    outcome: string;
    steps: { command: string; exit: number; ok: boolean }[];
  }[];
}

describe('pipectl demo', () => {
  it('repairs a stuck orchestrator and a crashed coordinator, echoing every command', async () => {
    const result = await runCli(['demo', '--json'], { timeoutMs: 600_000 });
    expect(result.code, result.stderr).toBe(0);
    const drills = result.json<DemoJson>().drills;
    expect(drills.map((d) => [d.scenario, d.outcome])).toEqual([
      ['stuck-orchestrator', 'healthy'],
      ['coordinator-crash', 'healthy'],
    ]);
    expect(result.stderr).toContain('$ export PIPECTL_SANDBOX=');
    expect(result.stderr).toMatch(
      /\$ pipectl orchestrator force-complete --phase 3 --date \S+ --processor TeamDefenseGameSummaryProcessor --yes --reason '/,
    );
    expect(result.stderr).toContain('$ pipectl coordinator republish --date');
    expect(result.stderr).toContain('$ pipectl sandbox drain');
    const last = drills[1]!.steps.at(-1)!;
    expect(last).toMatchObject({ exit: 0, ok: true });
    expect(last.command).toMatch(/^pipectl status --date /);
  }, 600_000);
});
