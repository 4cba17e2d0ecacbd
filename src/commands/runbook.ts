import { spawn } from 'node:child_process';

import { Option, type Command } from 'commander';

import type { GroupModule } from '../cli.js';
import { ExitCode, Refusal, UserError, type ExitCodeValue } from '../lib/errors.js';
import { RUNBOOKS, findRunbook, type Runbook, type RunbookStep } from '../lib/runbooks.js';
import { confirm } from '../terminal/confirm.js';
import { action, type CommandContext } from '../terminal/context.js';

interface RunOptions {
  date?: string;
  phase?: string;
}

export const register: GroupModule['register'] = (program: Command, exit) => {
  const runbook = program
    .command('runbook')
    .description('Guided recovery: the commands for one failure mode, run step by step.');

  runbook
    .command('list')
    .description('List the runbooks, one per failure mode.')
    .action(
      action(async (ctx) => {
        ctx.out.result(
          RUNBOOKS.map((r) => ({ name: r.name, title: r.title, symptom: r.symptom, doc: r.doc })),
          () =>
            ctx.out.table(
              ['name', 'when', 'doc'],
              RUNBOOKS.map((r) => [r.name, r.title, r.doc]),
            ),
        );
      }, exit),
    );

  runbook
    .command('run')
    .description(
      'Run a runbook: each step is a pipectl command, echoed before it runs. Diagnostic steps ' +
        'always run; each step that writes asks first (or needs --yes without a terminal).',
    )
    .argument('<name>', `One of: ${RUNBOOKS.map((r) => r.name).join(', ')}.`)
    .option('--date <date>', 'Game date: YYYY-MM-DD, today or yesterday (default: today).')
    .addOption(
      new Option('--phase <n>', 'Gate to act on, for runbooks about one gate (2, 3 or 4).'),
    )
    .addHelpText(
      'after',
      `
Examples:
  $ pipectl runbook run stuck-orchestrator --date today --phase 3 --reason "TeamDefense down"
  $ pipectl runbook run coordinator-crash --date 2026-12-01 --dry-run
  $ pipectl runbook run stale-lock --date today --yes --json     NDJSON, one event per step`,
    )
    .action(action<RunOptions>((ctx, options, args) => runRunbook(ctx, options, args[0]!), exit));
};

async function runRunbook(ctx: CommandContext, options: RunOptions, name: string): Promise<void> {
  const book = findRunbook(name);
  if (!book) {
    throw new UserError(`There is no runbook "${name}"`, {
      hint: `Runbooks: ${RUNBOOKS.map((r) => r.name).join(', ')}.`,
    });
  }
  const date = ctx.date(options.date);
  const phase = parsePhase(options.phase, book);
  const local = ctx.config.profile.backend === 'local';
  const steps = book.steps.filter((s) => local || !s.sandboxOnly);
  const { out, globals } = ctx;

  const plan = steps.map((step, i) => ({
    step: i + 1,
    title: step.title,
    command: `pipectl ${commandLine(step, { date, phase }).join(' ')}`,
    writes: step.mutates,
  }));
  if (globals.dryRun) {
    out.result({ runbook: book.name, dry_run: true, steps: plan }, () =>
      [
        `${out.style.bold(book.title)} (${book.doc})`,
        out.table(
          ['step', 'command', 'writes'],
          plan.map((p) => [p.step, p.command, p.writes ? 'yes' : 'no']),
        ),
        out.style.dim('Dry run: nothing was run.'),
      ].join('\n'),
    );
    return;
  }
  if (
    steps.some((s) => s.mutates) &&
    !globals.yes &&
    !(process.stdin.isTTY && process.stderr.isTTY)
  ) {
    throw new Refusal(`Runbook ${book.name} has steps that write and there is no terminal`, {
      hint: 'Re-run with --yes to run every step, or --dry-run to see them.',
    });
  }

  out.log(`${out.style.bold(book.title)}  ${out.style.dim(book.doc)}`);
  for (const [index, step] of steps.entries()) {
    const argv = commandLine(step, { date, phase });
    out.log(`\nStep ${index + 1}/${steps.length}: ${step.title}`);
    out.log(`$ pipectl ${argv.join(' ')}`);
    if (step.mutates && !globals.yes) {
      await confirm({ message: 'Run this step?', yes: false });
    }

    const code = await runStep(ctx, argv, step, globals.reason ?? `runbook ${book.name}`);
    out.event({
      event: 'step',
      step: index + 1,
      title: step.title,
      command: argv,
      exit_code: code,
    });
    // Diagnostic steps exit 1 when they find the problem the runbook is about; that is
    // expected. A step that writes and fails stops the runbook where it is.
    if (code >= ExitCode.badInput || (step.mutates && code !== ExitCode.ok)) {
      out.error(`Step ${index + 1} exited ${code}; stopping here.`, `See ${book.doc}.`);
      ctx.fail(code as ExitCodeValue);
      return;
    }
  }
  out.event({ event: 'done', runbook: book.name, steps: steps.length });
  out.log(`\n${out.style.ok('Runbook finished.')} Check the last status above.`);
}

function parsePhase(value: string | undefined, book: Runbook): number {
  if (value === undefined) return book.defaultPhase ?? 3;
  if (!['2', '3', '4'].includes(value)) {
    throw new UserError(`--phase "${value}" is not a gated phase`, { hint: 'Use 2, 3 or 4.' });
  }
  return Number(value);
}

function commandLine(step: RunbookStep, params: { date: string; phase: number }): string[] {
  return step.args(params);
}

/**
 * Runs one step as a child pipectl with the same profile, config and sandbox. Its output goes
 * to stderr so that, with --json, stdout carries only this command's NDJSON events.
 */
function runStep(
  ctx: CommandContext,
  argv: string[],
  step: RunbookStep,
  reason: string,
): Promise<number> {
  const { globals } = ctx;
  const passed = [
    ...(globals.profile ? ['--profile', globals.profile] : []),
    ...(globals.config ? ['--config', globals.config] : []),
    ...(globals.sandbox ? ['--sandbox', globals.sandbox] : []),
    ...(globals.color ? [] : ['--no-color']),
    // A step that writes is audited under the runbook's name unless the operator gave a reason.
    ...(step.mutates ? ['--yes', '--reason', reason] : []),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [process.argv[1]!, ...passed, ...argv], {
      stdio: ['inherit', ctx.out.json ? process.stderr : 'inherit', 'inherit'],
    });
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? ExitCode.failed));
  });
}
