import { describe, expect, it } from 'vitest';

import { todayIn } from '../../src/lib/dates.js';
import { runCli, tempSandbox } from '../helpers/cli.js';

const TODAY = todayIn('America/Los_Angeles');

interface StepEvent {
  event: 'step' | 'done';
  step?: number;
  command?: string[];
  exit_code?: number;
}

function sandboxCli() {
  const env = { PIPECTL_SANDBOX: tempSandbox('pipectl-runbook-'), PIPECTL_PROFILE: undefined };
  return (args: string[]) => runCli(args, { env, timeoutMs: 300_000 });
}

async function drill(scenario: string, runbook: string, extra: string[] = []) {
  const cli = sandboxCli();
  expect((await cli(['sandbox', 'init', '--scenario', scenario, '--date', TODAY])).code).toBe(0);
  expect((await cli(['status', '--date', TODAY])).code).toBe(1);

  const run = await cli(['runbook', 'run', runbook, '--date', TODAY, '--yes', '--json', ...extra]);
  const status = await cli(['status', '--date', TODAY, '--json']);
  return { run, events: run.events<StepEvent>(), status };
}

describe('runbook run on the sandbox', () => {
  it('lists one runbook per failure mode, each with its page', async () => {
    const result = await runCli(['runbook', 'list', '--json']);
    const books = result.json<{ name: string; doc: string }[]>();
    expect(books.map((b) => b.name)).toContain('stuck-orchestrator');
    expect(books.every((b) => b.doc.startsWith('docs/runbooks/'))).toBe(true);
  });

  it('repairs a stuck orchestrator end to end, one NDJSON event per step', async () => {
    const { run, events, status } = await drill('stuck-orchestrator', 'stuck-orchestrator');
    expect(run.code, run.stderr).toBe(0);
    const steps = events.filter((e) => e.event === 'step');
    expect(steps.map((s) => s.command?.slice(0, 2).join(' '))).toEqual([
      'status --date',
      'orchestrator show',
      'orchestrator force-complete',
      'sandbox drain',
      'status --date',
    ]);
    expect(events.at(-1)?.event).toBe('done');
    expect(status.code).toBe(0);
  });

  it('finishes a lost trigger and lets the pipeline run to predictions', async () => {
    const { run, status } = await drill('lost-trigger', 'lost-trigger');
    expect(run.code, run.stderr).toBe(0);
    expect(status.code).toBe(0);
    expect(status.json<{ coordinator: { completed: number } }>().coordinator.completed).toBe(450);
  });

  it('runs Phase 3 by hand on a date whose Phase 2 finished, and drain reaches predictions', async () => {
    const cli = sandboxCli();
    expect(
      (await cli(['sandbox', 'init', '--scenario', 'lost-trigger', '--date', TODAY])).code,
    ).toBe(0);
    const run = await cli(['phase', 'run', '3', '--date', TODAY, '--yes', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.json<{ via: string; target: string }>()).toMatchObject({
      via: 'pubsub',
      target: 'phase3-trigger',
    });
    expect((await cli(['sandbox', 'drain'])).code).toBe(0);

    const status = await cli(['status', '--date', TODAY, '--json']);
    expect(status.code, status.stdout).toBe(0);
    expect(status.json<{ coordinator: { completed: number } }>().coordinator.completed).toBe(450);

    // The marked Phase 2 trigger is now moot: publishing it would run Phase 3 a second time.
    const retrigger = await cli([
      'orchestrator',
      'retrigger',
      '--phase',
      '2',
      '--date',
      TODAY,
      '--yes',
    ]);
    expect(retrigger.code).toBe(3);
    expect(retrigger.stderr).toContain('would run the phase twice');
  });

  it('frees a stale lease and starts Phase 5 again', async () => {
    const { run, status } = await drill('stale-lock', 'stale-lock');
    expect(run.code, run.stderr).toBe(0);
    expect(status.code).toBe(0);
  });

  it('refuses without --yes when there is no terminal, before running any step', async () => {
    const cli = sandboxCli();
    const result = await cli(['runbook', 'run', 'stale-lock', '--date', TODAY]);
    expect(result.code).toBe(3);
    expect(result.stderr).not.toContain('Step 1/');
  });

  it('prints the steps and runs nothing on --dry-run', async () => {
    const cli = sandboxCli();
    const result = await cli([
      'runbook',
      'run',
      'coordinator-crash',
      '--date',
      TODAY,
      '--dry-run',
      '--json',
    ]);
    expect(result.code).toBe(0);
    const plan = result.json<{ dry_run: boolean; steps: { command: string; writes: boolean }[] }>();
    expect(plan.dry_run).toBe(true);
    expect(plan.steps.find((s) => s.writes)?.command).toBe(
      `pipectl coordinator republish --date ${TODAY}`,
    );
  });

  it('rejects an unknown runbook with exit 2 and lists the known ones', async () => {
    const result = await runCli(['runbook', 'run', 'stuck-orkestrator']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('stuck-orchestrator');
  });
});
