import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Command } from 'commander';

import { GROUPS, type GroupModule } from '../cli.js';
import { ExitCode, UserError } from '../lib/errors.js';
import { action, type CommandContext } from '../terminal/context.js';

interface DemoOptions {
  scenario?: string;
  date?: string;
  keep?: boolean;
}

const BIN = fileURLToPath(new URL('../../bin/pipectl.js', import.meta.url));

interface Step {
  args: string[];
  /** The exit code that means this step did its job. */
  expect: number;
  /** The command this step needs (`orchestrator force-complete`); absent for sandbox/status. */
  needs?: string;
}

interface Drill {
  scenario: string;
  story: string;
  recovery: (date: string) => Step[];
}

const DRILLS: Drill[] = [
  {
    scenario: 'stuck-orchestrator',
    story:
      'Phase 3 waits forever on a processor that keeps failing. Force its report so the gate ' +
      'completes and Phase 4 runs.',
    recovery: (date) => [
      {
        args: [
          'orchestrator',
          'force-complete',
          '--phase',
          '3',
          '--date',
          date,
          '--processor',
          'TeamDefenseGameSummaryProcessor',
          '--yes',
          '--reason',
          'TeamDefenseGameSummaryProcessor keeps failing; forcing the Phase 3 gate',
        ],
        expect: 0,
        needs: 'orchestrator force-complete',
      },
    ],
  },
  {
    scenario: 'coordinator-crash',
    story:
      'The coordinator died mid-batch. Rebuild its state from the warehouse, then request ' +
      'only the missing predictions.',
    recovery: (date) => [
      {
        args: [
          'coordinator',
          'reconstruct',
          '--date',
          date,
          '--write',
          '--yes',
          '--reason',
          'coordinator crashed mid-batch; rebuilding state from predictions',
        ],
        expect: 0,
        needs: 'coordinator reconstruct',
      },
      {
        args: [
          'coordinator',
          'republish',
          '--date',
          date,
          '--yes',
          '--reason',
          'coordinator crashed mid-batch; requesting the missing players',
        ],
        expect: 0,
        needs: 'coordinator republish',
      },
    ],
  },
];

interface StepResult {
  command: string;
  exit: number;
  ok: boolean;
}

interface DrillResult {
  scenario: string;
  sandbox: string;
  outcome: 'healthy' | 'unhealthy' | 'skipped';
  missing: string[];
  steps: StepResult[];
}

export const register: GroupModule['register'] = (program: Command, exit) => {
  program
    .command('demo')
    .description(
      'Run full recovery drills on a fresh temporary sandbox: build a failure, diagnose it ' +
        'with status, repair it with the real commands, let the simulated pipeline finish, and ' +
        'show it healthy.',
    )
    .option(
      '--scenario <name>',
      'Run only this drill: stuck-orchestrator or coordinator-crash. Default: both.',
    )
    .option(
      '--date <date>',
      'Game date for the drill (YYYY-MM-DD, today or yesterday). Default: today.',
    )
    .option('--keep', 'Keep the temporary sandbox files and print where they are.')
    .addHelpText(
      'after',
      `
Examples:
  $ npm ci && npm run demo
  $ pipectl demo --scenario coordinator-crash --keep

Every command is echoed as "$ pipectl ..." exactly as you can type it after the echoed
"export PIPECTL_SANDBOX=...". The demo never touches any profile but a temporary local
sandbox. Exit 1 when a drill does not end healthy.`,
    )
    .action(action<DemoOptions>((ctx, options) => demo(ctx, options), exit));
};

async function demo(ctx: CommandContext, options: DemoOptions): Promise<void> {
  const drills = options.scenario ? DRILLS.filter((d) => d.scenario === options.scenario) : DRILLS;
  if (drills.length === 0) {
    throw new UserError(`There is no drill for "${options.scenario}"`, {
      hint: `Drills: ${DRILLS.map((d) => d.scenario).join(', ')}.`,
    });
  }
  const date = ctx.date(options.date);
  const available = await availableCommands();
  const dir = mkdtempSync(join(tmpdir(), 'pipectl-demo-'));
  const { out } = ctx;

  const results: DrillResult[] = [];
  try {
    for (const drill of drills) {
      results.push(
        await runDrill(ctx, drill, date, join(dir, `${drill.scenario}.duckdb`), available),
      );
    }
  } finally {
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
  }

  out.result({ date, sandbox_dir: options.keep ? dir : null, drills: results }, () =>
    [
      '',
      ...results.map(
        (r) =>
          `${r.outcome === 'healthy' ? out.style.ok('healthy') : r.outcome === 'skipped' ? out.style.warn('skipped') : out.style.fail('unhealthy')}  ${r.scenario}` +
          (r.missing.length
            ? ` (this build has no: ${r.missing.map((m) => `pipectl ${m}`).join(', ')})`
            : ''),
      ),
      ...(options.keep ? [`Sandboxes kept in ${dir}`] : []),
    ].join('\n'),
  );
  if (results.some((r) => r.outcome === 'unhealthy')) ctx.fail(ExitCode.failed);
}

async function runDrill(
  ctx: CommandContext,
  drill: Drill,
  date: string,
  sandbox: string,
  available: Set<string>,
): Promise<DrillResult> {
  const { out } = ctx;
  const steps: StepResult[] = [];
  const recovery = drill.recovery(date);
  const missing = recovery.flatMap((s) => (s.needs && !available.has(s.needs) ? [s.needs] : []));
  const run = async (step: Step): Promise<boolean> => {
    out.log(out.style.bold(`$ pipectl ${step.args.map(shellWord).join(' ')}`));
    const code = await spawnCli(step.args, sandbox);
    const ok = code === step.expect;
    steps.push({ command: `pipectl ${step.args.map(shellWord).join(' ')}`, exit: code, ok });
    out.log(out.style.dim(`(exit ${code}${ok ? '' : `, expected ${step.expect}`})`));
    out.log('');
    return ok;
  };

  out.log(out.style.target(`== Drill: ${drill.scenario}`));
  out.log(drill.story);
  out.log('');
  out.log(out.style.bold(`$ export PIPECTL_SANDBOX=${sandbox}`));
  const result = (outcome: DrillResult['outcome']): DrillResult => ({
    scenario: drill.scenario,
    sandbox,
    outcome,
    missing,
    steps,
  });

  const prepared =
    (await run({
      args: ['sandbox', 'init', '--scenario', drill.scenario, '--date', date],
      expect: 0,
    })) && (await run({ args: ['status', '--date', date], expect: 1 }));
  if (!prepared) return result('unhealthy');
  if (missing.length > 0) {
    out.warn(
      `This build has no ${missing.map((m) => `"pipectl ${m}"`).join(' or ')} yet; skipping the ${drill.scenario} recovery.`,
    );
    out.log('');
    return result('skipped');
  }

  for (const step of recovery) if (!(await run(step))) return result('unhealthy');
  const healthy =
    (await run({ args: ['sandbox', 'drain'], expect: 0 })) &&
    (await run({ args: ['status', '--date', date], expect: 0 }));
  return result(healthy ? 'healthy' : 'unhealthy');
}

/** The real CLI in a child process, on the drill's sandbox and nothing else. */
function spawnCli(args: string[], sandbox: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, PIPECTL_SANDBOX: sandbox, PIPECTL_PROFILE: 'local' },
      // The drill's own output is the transcript: on the demo's stderr, like its other logs.
      stdio: ['ignore', process.stderr, process.stderr],
    });
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
}

/** `group sub` names this build registers, read from the command modules themselves. */
async function availableCommands(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const group of GROUPS) {
    if (group.name === 'demo') continue;
    const program = new Command();
    (await group.load()).register(program, () => undefined);
    for (const command of program.commands) {
      names.add(command.name());
      for (const sub of command.commands) names.add(`${command.name()} ${sub.name()}`);
    }
  }
  return names;
}

/** Quotes a word the way a POSIX shell needs it, so an echoed command can be pasted. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
