/**
 * Builds the commander program. Only the command group named on the command line is imported,
 * so `pipectl --help` and `pipectl --version` load commander and nothing else.
 */

import { readFileSync } from 'node:fs';

import { Command, CommanderError, Option } from 'commander';

import type { ExitCodeValue } from './lib/errors.js';

export interface GroupModule {
  register(program: Command, exit: (code: ExitCodeValue) => void): void;
}

interface Group {
  name: string;
  summary: string;
  load: () => Promise<GroupModule>;
}

/** Every command group, in the order `--help` lists them. */
export const GROUPS: Group[] = [
  {
    name: 'status',
    summary: 'Whole-pipeline view for a date: gates, runs, batch, deadline, diagnosis, next step',
    load: () => import('./commands/status.js'),
  },
  {
    name: 'preflight',
    summary: 'Check that every backend of the profile answers within a deadline',
    load: () => import('./commands/preflight.js'),
  },
  {
    name: 'phase',
    summary: 'Trigger a phase for a date with guards; emergency paths around the orchestrators',
    load: () => import('./commands/phase.js'),
  },
  {
    name: 'orchestrator',
    summary: 'Inspect the phase gates, find stuck ones, force-complete, reset or retrigger them',
    load: () => import('./commands/orchestrator.js'),
  },
  {
    name: 'coordinator',
    summary: 'Phase 5 batch state and lease; reconstruct and republish missing predictions',
    load: () => import('./commands/coordinator.js'),
  },
  {
    name: 'changes',
    summary: 'Inspect change detection per processor and verify stored row hashes',
    load: () => import('./commands/changes.js'),
  },
  {
    name: 'health',
    summary: 'Silent-failure checks with an exit code for cron, and alerts',
    load: () => import('./commands/health.js'),
  },
  {
    name: 'runbook',
    summary: 'Guided recovery: list runbooks, or run one step by step',
    load: () => import('./commands/runbook.js'),
  },
  {
    name: 'audit',
    summary: 'List the audit records that mutating commands write',
    load: () => import('./commands/audit.js'),
  },
  {
    name: 'sandbox',
    summary: 'The embedded pipeline: scenarios, simulated services, message log',
    load: () => import('./commands/sandbox.js'),
  },
  {
    name: 'demo',
    summary: 'A full recovery drill on a fresh local sandbox',
    load: () => import('./commands/demo.js'),
  },
  {
    name: 'config',
    summary: 'Show the resolved configuration and profile',
    load: () => import('./commands/config.js'),
  },
];

export const EXIT_CODES_HELP = `
Exit codes:
  0  done, or healthy
  1  the operation failed, or a check found a problem
  2  bad input (a date, an option, a config key); nothing was written
  3  refused by a guard: confirmation needed, lock held, batch active
  4  a backend is unreachable or timed out`;

const EXAMPLES = `
Examples:
  $ pipectl status --date today                 what is wrong, and what to run next
  $ pipectl orchestrator stuck                  gates waiting on a processor (exit 1 if any)
  $ pipectl coordinator republish --date today  request only the missing predictions
  $ pipectl health --date today --json          silent-failure checks for cron
  $ pipectl demo                                a full recovery drill on a local sandbox`;

const PROFILES_HELP = `
Profiles (--profile or PIPECTL_PROFILE): local (default, an embedded sandbox file),
emulator, staging, prod. Settings come from pipectl.config.json, found from the working
directory upward or named by --config.`;

const GLOBAL_OPTIONS_WITH_VALUES = new Set(['--profile', '--config', '--sandbox', '--reason']);

export function buildProgram(): Command {
  const program = new Command('pipectl')
    .description('Operate the five-phase prediction pipeline: status, guarded triggers, recovery.')
    .version(version(), '-V, --version', 'Print the version and exit.')
    .addOption(
      new Option('--profile <name>', 'Backend profile: local, emulator, staging or prod.').env(
        'PIPECTL_PROFILE',
      ),
    )
    .option(
      '--config <path>',
      'Configuration file (default: pipectl.config.json, searched upward).',
    )
    .addOption(
      new Option('--sandbox <path>', 'DuckDB file of the local profile.').env('PIPECTL_SANDBOX'),
    )
    .option('--json', 'Print one JSON document (or NDJSON events) on stdout and nothing else.')
    .option('-y, --yes', 'Confirm mutations without a prompt; required when there is no terminal.')
    .option('--dry-run', 'Show what a mutation would do and write nothing.')
    .option('--reason <text>', 'Why you are doing this; kept in the audit record.')
    .option('--no-color', 'Print without colour (also NO_COLOR).')
    .option('--verbose', 'Show debug lines and stack traces.')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false })
    .addHelpText('after', `${EXAMPLES}\n${PROFILES_HELP}\n${EXIT_CODES_HELP}`);
  program.exitOverride();
  return program;
}

/** The group named on the command line, skipping global options and their values. */
export function groupIn(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return undefined;
    if (arg.startsWith('-')) {
      if (GLOBAL_OPTIONS_WITH_VALUES.has(arg)) i += 1;
      continue;
    }
    return arg;
  }
  return undefined;
}

export async function main(argv: string[]): Promise<number> {
  let code: ExitCodeValue = 0;
  const exit = (value: ExitCodeValue) => {
    code = value;
  };
  const program = buildProgram();
  const args = argv.slice(2);
  const chosen = GROUPS.find((g) => g.name === groupIn(args));

  for (const group of GROUPS) {
    if (group === chosen) (await group.load()).register(program, exit);
    else program.command(group.name).description(group.summary);
  }

  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; any parse error (unknown option, missing value) is bad input.
      return error.exitCode === 0 ? 0 : 2;
    }
    throw error;
  }
  return code;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
