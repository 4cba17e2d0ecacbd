import { statSync } from 'node:fs';

import { Option, type Command } from 'commander';

import type { GroupModule } from '../cli.js';
import type { LibContext } from '../lib/context.js';
import { ExitCode, Refusal, UserError } from '../lib/errors.js';
import { action, type CommandContext } from '../terminal/context.js';
import { wholeNumber } from '../terminal/options.js';

interface InitOptions {
  scenario: string;
  date?: string;
  players: string;
  seed: string;
  historyDays: string;
  force?: boolean;
}

interface MessagesOptions {
  topic?: string;
  pending?: boolean;
  limit: string;
}

interface DrainOptions {
  max: string;
}

const LOCAL_ONLY =
  'The sandbox lives in the local profile’s DuckDB file; other profiles are never rewritten.';

export const register: GroupModule['register'] = (program: Command, exit) => {
  const sandbox = program
    .command('sandbox')
    .description(
      'Build a realistic game day in a failure mode on the local profile, and run the ' +
        'simulated services that react to what pipectl publishes.',
    );

  sandbox
    .command('scenarios')
    .description('List the scenarios, one failure mode each.')
    .addHelpText(
      'after',
      '\nExamples:\n  $ pipectl sandbox scenarios\n  $ pipectl sandbox scenarios --json',
    )
    .action(
      action(async (ctx) => {
        const { SCENARIOS } = await import('../lib/sandbox/scenarios.js');
        const list = Object.values(SCENARIOS);
        const width = Math.max(...list.map((s) => s.name.length));
        ctx.out.result(list, () =>
          list.map((s) => `${ctx.out.style.target(s.name.padEnd(width))}  ${s.summary}`).join('\n'),
        );
      }, exit),
    );

  sandbox
    .command('init')
    .description(
      'Write one game day in the chosen scenario into the local sandbox file: warehouse ' +
        'tables, gates, coordinator state, locks and the message log.',
    )
    .requiredOption(
      '--scenario <name>',
      'The failure mode to build; see `pipectl sandbox scenarios`.',
    )
    .option('--date <date>', 'Game date to build (YYYY-MM-DD, today or yesterday). Default: today.')
    .addOption(new Option('--players <n>', 'Players on the slate, from 30 to 5000.').default('450'))
    .addOption(
      new Option(
        '--seed <n>',
        'Seed for every generated value; the same seed writes the same rows.',
      ).default('42'),
    )
    .addOption(
      new Option(
        '--history-days <n>',
        'Also write this many earlier healthy game days (170 is about a season).',
      ).default('0'),
    )
    .option(
      '--force',
      'Wipe a sandbox file that already holds data. Without it, init refuses (exit 3) rather ' +
        'than mix two game days.',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ pipectl sandbox init --scenario stuck-orchestrator --date today
  $ pipectl sandbox init --scenario healthy --history-days 170 --force
  $ PIPECTL_SANDBOX=/tmp/drill.duckdb pipectl sandbox init --scenario coordinator-crash

Local profile only (exit 2 on any other). The file is --sandbox, PIPECTL_SANDBOX, or the
profile's "sandbox" setting (default .pipectl/sandbox.duckdb).`,
    )
    .action(
      action<InitOptions>(async (ctx, options) => {
        const path = localSandboxPath(ctx);
        const { checkInitOptions, initScenario, removeSandboxFile, sandboxHasData } =
          await import('../lib/sandbox/init.js');
        const checked = checkInitOptions({
          scenario: options.scenario,
          gameDate: ctx.date(options.date),
          players: wholeNumber(options.players, '--players'),
          seed: wholeNumber(options.seed, '--seed'),
          historyDays: wholeNumber(options.historyDays, '--history-days'),
        });

        const { openLocalBackends } = await import('../lib/backends/local/index.js');
        const probe = openLocalBackends({ path });
        const hasData = await sandboxHasData(probe).finally(() => probe.close());
        if (hasData && !options.force) {
          throw new Refusal(`The sandbox file ${path} already holds data`, {
            hint: 'Add --force to wipe it, or point --sandbox (PIPECTL_SANDBOX) at a new file.',
          });
        }
        if (hasData) removeSandboxFile(path);

        const { out } = ctx;
        const started = Date.now();
        const progress =
          checked.historyDays > 0
            ? await out.progress('Writing history', checked.historyDays)
            : null;
        const lib = await libContext(ctx, (event) => {
          if (event.level === 'progress') progress?.tick();
        });
        const result = await initScenario(lib, checked);
        progress?.finish(`Wrote ${checked.historyDays} history days`);
        await lib.backends.close();
        const ms = Date.now() - started;
        const bytes = fileSize(path);

        const total = Object.values(result.rows).reduce((a, b) => a + b, 0);
        out.result({ ...result, file: path, bytes, ms }, () =>
          [
            `Sandbox ${out.style.target(path)}`,
            `scenario ${out.style.target(result.scenario)} for ${out.style.target(result.gameDate)}` +
              ` (${result.players} players, seed ${result.seed}, ${result.historyDays} history days)`,
            `wrote ${total.toLocaleString('en-US')} rows in ${Object.keys(result.rows).length} tables,` +
              ` ${result.documents.toLocaleString('en-US')} documents,` +
              ` ${result.messages.published} messages (${result.messages.pending} pending)` +
              ` in ${(ms / 1000).toFixed(1)}s; file ${(bytes / 1e6).toFixed(1)} MB`,
            '',
            `Next: pipectl status --date ${result.gameDate}`,
          ].join('\n'),
        );
      }, exit),
    );

  sandbox
    .command('messages')
    .description(
      'Print the sandbox message log: what pipectl and the simulated services published.',
    )
    .option('--topic <name>', 'Only messages on this topic.')
    .option('--pending', 'Only messages no simulated service has consumed yet.')
    .addOption(
      new Option('--limit <n>', 'At most this many messages, oldest first.').default('1000'),
    )
    .addHelpText(
      'after',
      `
Examples:
  $ pipectl sandbox messages --pending
  $ pipectl sandbox messages --topic phase4-trigger --json`,
    )
    .action(
      action<MessagesOptions>(async (ctx, options) => {
        localSandboxPath(ctx);
        const limit = wholeNumber(options.limit, '--limit');
        const lib = await libContext(ctx);
        const { isLocalBackends } = await import('../lib/backends/local/index.js');
        if (!isLocalBackends(lib.backends)) throw new UserError(LOCAL_ONLY);
        const messages = await lib.backends.messages.list({
          ...(options.topic ? { topic: options.topic } : {}),
          pendingOnly: options.pending === true,
          limit,
        });
        const { out } = ctx;
        out.result(
          messages.map((m) => ({
            seq: m.seq,
            message_id: m.messageId,
            topic: m.topic,
            data: m.data,
            attributes: m.attributes,
            published_at: m.publishedAt,
            consumed_at: m.consumedAt,
            consumed_by: m.consumedBy,
          })),
          () =>
            messages.length === 0
              ? 'No messages match.'
              : out.table(
                  ['seq', 'topic', 'published', 'consumed by', 'about'],
                  messages.map((m) => [
                    m.seq,
                    m.topic,
                    m.publishedAt.toISOString().slice(11, 19),
                    m.consumedBy ?? out.style.warn('pending'),
                    about(m.data),
                  ]),
                ),
        );
      }, exit),
    );

  sandbox
    .command('drain')
    .description(
      'Run the simulated services until no message is pending: processors answer phase ' +
        'triggers, the orchestrators record reports, the coordinator fans out, workers predict.',
    )
    .addOption(
      new Option(
        '--max <n>',
        'Stop after handling this many messages (a guard against loops).',
      ).default('20000'),
    )
    .addHelpText(
      'after',
      `
Examples:
  $ pipectl sandbox drain
  $ pipectl sandbox drain --max 100 --json

Exit 1 when --max is reached with messages still pending.`,
    )
    .action(
      action<DrainOptions>(async (ctx, options) => {
        localSandboxPath(ctx);
        const max = wholeNumber(options.max, '--max');
        const { drain } = await import('../lib/sandbox/services.js');
        const lib = await libContext(ctx);
        const summary = await drain(lib, { max });
        const { out } = ctx;
        out.result(summary, () => renderDrain(summary, out.style.target));
        if (summary.exhausted) ctx.fail(ExitCode.failed);
      }, exit),
    );
};

type DrainSummary = Awaited<ReturnType<typeof import('../lib/sandbox/services.js').drain>>;

function renderDrain(summary: DrainSummary, target: (t: string) => string): string {
  const lines = summary.steps.map((s) => `  ${s.service.padEnd(12)} ${s.detail}`);
  const tail = summary.exhausted
    ? `Stopped at --max ${summary.handled}; ${summary.pending} messages still pending.`
    : `Handled ${summary.handled} messages; nothing pending.`;
  return [
    ...(lines.length ? lines : ['  nothing was pending']),
    '',
    tail,
    ...summary.gameDates.map((d) => `Next: ${target(`pipectl status --date ${d}`)}`),
  ].join('\n');
}

function localSandboxPath(ctx: CommandContext): string {
  const { profile, profileName } = ctx.config;
  if (profile.backend !== 'local' || !profile.sandbox) {
    throw new UserError(`The sandbox works only on the local profile, not "${profileName}"`, {
      hint: `${LOCAL_ONLY} Drop --profile (or PIPECTL_PROFILE) to use it.`,
    });
  }
  return profile.sandbox;
}

async function libContext(ctx: CommandContext, log?: LibContext['log']): Promise<LibContext> {
  return {
    config: ctx.config,
    backends: await ctx.backends(),
    actor: ctx.actor,
    log: (event) => {
      log?.(event);
      if (event.level === 'warn') ctx.out.warn(event.message);
      else if (event.level === 'info') ctx.out.debug(event.message);
    },
  };
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** One short phrase per message for the table: the date and what it is about. */
function about(data: Record<string, unknown>): string {
  const parts = [data.game_date, data.processor_name, data.player_lookup, data.url]
    .filter((v) => typeof v === 'string')
    .map(String);
  return parts.join(' ');
}
