import { Option, type Command } from 'commander';

import type { GroupModule } from '../cli.js';
import type { LibContext } from '../lib/context.js';
import { formatDuration, parseDuration, type GameDate } from '../lib/dates.js';
import { ExitCode, UserError } from '../lib/errors.js';
import type { RunnablePhase } from '../lib/pipeline.js';
import type {
  BypassStep,
  EmergencyPlan,
  GuardOutcome,
  PhaseProgress,
  PhaseRunPlan,
} from '../lib/phase/index.js';
import { action, type CommandContext } from '../terminal/context.js';
import { wholeNumber } from '../terminal/options.js';
import type { Cell } from '../terminal/output.js';

interface RunOptions {
  date?: string;
  correlationId?: string;
  entities?: string;
  forceFullBatch?: boolean;
  bypassOrchestrator?: boolean;
  skipDependencies?: boolean;
  force?: boolean;
  wait?: boolean;
  timeout: string;
  upstreamDeadline: string;
}

interface EmergencyOptions {
  date?: string;
  minPlayers: string;
  correlationId?: string;
  force?: boolean;
}

interface BypassOptions {
  phase: string;
  date?: string;
  only?: 'phase4' | 'feature-store';
  correlationId?: string;
  force?: boolean;
}

const RUN_EXAMPLES = `
Examples:
  $ pipectl phase run 3 --date today --yes
  $ pipectl phase run 4 --date 2026-12-01 --entities lebronjames,stephcurry --wait
  $ pipectl phase run 5 --date today --correlation-id abc-123 --wait --timeout 45m --json
  $ pipectl phase run 3 --date yesterday --force --reason "stale running row, INC-812" --yes

Guards (exit 3 when one refuses; --force --reason "..." overrides):
  not running   no run of the phase for the date started in the last 2 hours without
                ending, and for phase 5 no coordinator batch running
  upstream      every table the phase reads has fresh rows for the date (not for phase 2)
A date that is not a calendar date, or more than one day ahead, is bad input (exit 2).

Exit codes: 0 sent (with --wait: the phase completed); 1 the phase failed or --wait timed
out; 2 bad input or a missing endpoint URL; 3 refused by a guard or not confirmed;
4 a backend or service is unreachable.`;

export const register: GroupModule['register'] = (program: Command, exit) => {
  const phase = program
    .command('phase')
    .description(
      'Trigger a phase for a game date, with guards; emergency paths around the orchestrators.',
    );

  phase
    .command('run')
    .description('Trigger phase N (2-5) for a game date, after checking that it is safe to.')
    .argument('<phase>', 'The phase to run: 2, 3, 4 or 5.')
    .option('--date <date>', 'Game date: YYYY-MM-DD, today or yesterday (default: today).')
    .option(
      '--correlation-id <id>',
      'Correlation id to continue; default a fresh manual-<uuid>. It travels with every ' +
        'message downstream.',
    )
    .option(
      '--entities <ids>',
      'Comma-separated entity ids (players or teams) to process. Duplicates are dropped; more ' +
        'than the configured entityCap becomes a full batch. Default: a full batch.',
    )
    .option('--force-full-batch', 'Process every entity, even if --entities is given.')
    .option(
      '--bypass-orchestrator',
      "Call the phase's service endpoint directly, even when the profile triggers through Pub/Sub. Needs --reason. Not for phase 2.",
    )
    .option('--skip-dependencies', 'Do not check the upstream tables. Needs --reason.')
    .option('--force', 'Send even though a guard refused. Needs --reason.')
    .option('--wait', 'Follow the phase until it completes, fails, or --timeout passes.')
    .addOption(
      new Option('--timeout <duration>', 'How long --wait waits, for example 30m or 2h.').default(
        '30m',
      ),
    )
    .addOption(
      new Option(
        '--upstream-deadline <duration>',
        'Deadline of the upstream check; when it passes the upstream counts as not ready.',
      ).default('20s'),
    )
    .addHelpText('after', RUN_EXAMPLES)
    .action(action<RunOptions>((ctx, options, args) => runPhase(ctx, options, args[0]!), exit));

  phase
    .command('emergency-start')
    .description(
      "Start Phase 5 through the coordinator's /emergency-start, skipping its validation. For when the orchestrators are down.",
    )
    .option('--date <date>', 'Game date: YYYY-MM-DD, today or yesterday (default: today).')
    .addOption(
      new Option(
        '--min-players <n>',
        'Start only if at least this many players have features (0: start whatever is there).',
      ).default('0'),
    )
    .option('--correlation-id <id>', 'Correlation id to continue; default a fresh manual-<uuid>.')
    .option('--force', 'Start even though a Phase 5 batch is running for the date.')
    .addHelpText(
      'after',
      `
Needs --reason. On prod you also type the game date. The request is audited.

Examples:
  $ pipectl phase emergency-start --date today --reason "phase4 orchestrator down, INC-901"
  $ pipectl phase emergency-start --date today --min-players 300 --reason "..." --yes

Exit codes: 0 sent; 1 the coordinator answered with an error; 2 bad input, no --reason, or
no coordinator URL (set profiles.<profile>.endpoints.coordinator); 3 a batch is running or
not confirmed; 4 the coordinator is unreachable.`,
    )
    .action(action<EmergencyOptions>((ctx, options) => emergencyStart(ctx, options), exit));

  phase
    .command('bypass')
    .description(
      'Run Phase 4 (/trigger-direct) and then the ML feature store (/run-direct) directly, ' +
        'skipping the orchestrator.',
    )
    .requiredOption('--phase <n>', 'The phase to bypass into; only 4 is supported.')
    .option('--date <date>', 'Game date: YYYY-MM-DD, today or yesterday (default: today).')
    .addOption(
      new Option('--only <step>', 'Send one request only (default: both, Phase 4 first).').choices([
        'phase4',
        'feature-store',
      ]),
    )
    .option('--correlation-id <id>', 'Correlation id to continue; default a fresh manual-<uuid>.')
    .option('--force', 'Send even though Phase 4 is running for the date.')
    .addHelpText(
      'after',
      `
Needs --reason. On prod you also type the game date. The requests are audited.

Examples:
  $ pipectl phase bypass --phase 4 --date today --reason "phase3 orchestrator stuck, INC-902"
  $ pipectl phase bypass --phase 4 --date today --only feature-store --reason "..." --yes

Exit codes: 0 sent; 1 a service answered with an error; 2 bad input, no --reason, or a
missing URL (profiles.<profile>.endpoints.phase4 / featureStore); 3 Phase 4 is running or
not confirmed; 4 a service is unreachable.`,
    )
    .action(action<BypassOptions>((ctx, options) => bypass(ctx, options), exit));
};

// ---------------------------------------------------------------------------------------------

async function runPhase(ctx: CommandContext, options: RunOptions, phaseArg: string): Promise<void> {
  const phase = parsePhase(phaseArg);
  const gameDate = ctx.date(options.date);
  const timeoutMs = parseDuration(options.timeout, '--timeout');
  const upstreamDeadlineMs = parseDuration(options.upstreamDeadline, '--upstream-deadline');
  const entities = parseEntities(options.entities);
  const overrides = [
    options.force && '--force',
    options.bypassOrchestrator && '--bypass-orchestrator',
    options.skipDependencies && '--skip-dependencies',
  ].filter((o): o is string => typeof o === 'string');
  requireReason(ctx, overrides);
  const { chooseDelivery, planPhaseRun, sendPhaseRun } = await import('../lib/phase/index.js');
  chooseDelivery(ctx.config, { phase, bypassOrchestrator: options.bypassOrchestrator === true });

  const lib = await libContext(ctx);
  const plan = await planPhaseRun(lib, {
    phase,
    gameDate,
    entities,
    upstreamDeadlineMs,
    source: 'pipectl',
    ...(options.correlationId !== undefined ? { correlationId: options.correlationId } : {}),
    forceFullBatch: options.forceFullBatch === true,
    bypassOrchestrator: options.bypassOrchestrator === true,
    skipDependencies: options.skipDependencies === true,
    force: options.force === true,
  });

  const sentAt = new Date();
  const outcome = await ctx.mutate({
    command: 'phase run',
    args: { phase, date: gameDate, entities, overrides, wait: options.wait === true },
    gameDate,
    correlationId: plan.correlationId,
    requireReason: overrides.length > 0,
    plan: runPlan(ctx, plan),
    apply: () => sendPhaseRun(lib, plan),
    details: (sent) => ({
      via: sent.via,
      target: sent.target,
      message_id: sent.messageId,
      status: sent.status,
      idempotency_key: plan.trigger.idempotencyKey,
      guards: plan.guards.map((g) => `${g.guard}: ${g.state}`),
    }),
  });
  if (!outcome.applied) return;

  const sent = outcome.result;
  const summary = {
    phase,
    game_date: gameDate,
    correlation_id: plan.correlationId,
    idempotency_key: plan.trigger.idempotencyKey,
    via: sent.via,
    target: sent.target,
    message_id: sent.messageId,
    status: sent.status,
    entities: plan.entities,
    full_batch: plan.fullBatch,
    guards: plan.guards,
  };
  const { out } = ctx;
  const sentLine = `Sent the phase ${phase} trigger for ${out.style.target(gameDate)} via ${sent.via} to ${sent.target} (correlation ${plan.correlationId})`;
  if (!options.wait) {
    out.result(summary, () => sentLine);
    return;
  }

  out.event({ event: 'sent', ...summary });
  if (!out.json) out.log(sentLine);
  await follow(ctx, lib, phase, gameDate, timeoutMs, sentAt);
}

async function follow(
  ctx: CommandContext,
  lib: LibContext,
  phase: RunnablePhase,
  gameDate: GameDate,
  timeoutMs: number,
  since: Date,
): Promise<void> {
  const { out } = ctx;
  const { waitForPhase } = await import('../lib/phase/index.js');
  const spinner = await out.spinner(`Waiting for phase ${phase} on ${gameDate}`);
  const result = await waitForPhase(lib, phase, gameDate, {
    timeoutMs,
    since,
    onProgress: (p) => {
      out.event({ event: 'progress', ...progressFields(p) });
      spinner.update(`Phase ${phase} on ${gameDate}: ${progressText(p)}`);
    },
  });

  const p = result.progress;
  out.event({
    event: result.outcome,
    elapsed_ms: result.elapsedMs,
    polls: result.polls,
    ...progressFields(p),
  });
  if (result.outcome === 'complete') {
    spinner.succeed(`Phase ${phase} completed for ${gameDate} (${progressText(p)})`);
    return;
  }
  ctx.fail(ExitCode.failed);
  if (result.outcome === 'failed') {
    const failed = p.failures.map((f) => `${f.processor}${f.error ? ` (${f.error})` : ''}`);
    spinner.fail(`Phase ${phase} failed for ${gameDate}: ${failed.join(', ')}`);
    return;
  }
  const still =
    phase === 5
      ? `${p.total - p.done} of ${p.total} predictions missing (batch ${p.batchStatus ?? 'not started'})`
      : `still missing: ${p.missing.join(', ')}`;
  spinner.fail(
    `Phase ${phase} did not complete for ${gameDate} within ${formatDuration(timeoutMs)}; ${still}`,
  );
}

async function emergencyStart(ctx: CommandContext, options: EmergencyOptions): Promise<void> {
  const gameDate = ctx.date(options.date);
  const minPlayers = wholeNumber(options.minPlayers, '--min-players', { max: 10_000 });
  requireReason(ctx, ['phase emergency-start']);
  const { planEmergencyStart, sendEmergency, serviceUrl } = await import('../lib/phase/index.js');
  serviceUrl(ctx.config, 'coordinator', '/emergency-start');

  const lib = await libContext(ctx);
  const plan = await planEmergencyStart(lib, {
    gameDate,
    minPlayers,
    force: options.force === true,
    reason: ctx.globals.reason ?? null,
    ...(options.correlationId !== undefined ? { correlationId: options.correlationId } : {}),
  });
  await sendLoud(
    ctx,
    lib,
    'phase emergency-start',
    plan,
    { min_players: minPlayers },
    sendEmergency,
  );
}

async function bypass(ctx: CommandContext, options: BypassOptions): Promise<void> {
  if (options.phase !== '4') {
    throw new UserError(`--phase ${options.phase} cannot be bypassed`, {
      hint:
        'Only --phase 4 has direct endpoints (/trigger-direct and the feature store ' +
        '/run-direct).',
    });
  }
  const gameDate = ctx.date(options.date);
  requireReason(ctx, ['phase bypass']);
  const { planBypass, sendEmergency, serviceUrl } = await import('../lib/phase/index.js');
  const steps: BypassStep[] = options.only ? [options.only] : ['phase4', 'feature-store'];
  for (const step of steps) {
    if (step === 'phase4') serviceUrl(ctx.config, 'phase4', '/trigger-direct');
    else serviceUrl(ctx.config, 'featureStore', '/run-direct');
  }

  const lib = await libContext(ctx);
  const plan = await planBypass(lib, {
    gameDate,
    steps,
    force: options.force === true,
    reason: ctx.globals.reason ?? null,
    ...(options.correlationId !== undefined ? { correlationId: options.correlationId } : {}),
  });
  await sendLoud(
    ctx,
    lib,
    'phase bypass',
    plan,
    { phase: 4, only: options.only ?? null },
    sendEmergency,
  );
}

async function sendLoud(
  ctx: CommandContext,
  lib: LibContext,
  command: string,
  plan: EmergencyPlan,
  args: Record<string, unknown>,
  send: (
    lib: LibContext,
    plan: EmergencyPlan,
  ) => Promise<{ sent: { url: string; status: number }[] }>,
): Promise<void> {
  const { out } = ctx;
  out.warn(
    `${out.style.danger(command)} skips the pipeline's own checks for ${out.style.target(plan.gameDate)}.`,
  );
  const outcome = await ctx.mutate({
    command,
    args: { ...args, date: plan.gameDate, force: plan.guard.state === 'overridden' },
    gameDate: plan.gameDate,
    correlationId: plan.correlationId,
    requireReason: true,
    plan: {
      summary: `${command}: ${plan.requests.length} request(s) for ${plan.gameDate} on ${ctx.config.profileName}`,
      columns: ['step', 'url', 'idempotency key'],
      rows: [
        ...plan.requests.map((r, i): Cell[] => [i + 1, r.url, String(r.body.idempotency_key)]),
        ['guard', guardText(plan.guard), ''],
      ],
    },
    apply: () => send(lib, plan),
    details: (result) => ({ sent: result.sent.map((s) => ({ url: s.url, status: s.status })) }),
  });
  if (!outcome.applied) return;

  const sent = outcome.result.sent;
  out.result(
    {
      command,
      game_date: plan.gameDate,
      correlation_id: plan.correlationId,
      sent: sent.map((s) => ({ url: s.url, status: s.status })),
      guard: plan.guard,
    },
    () =>
      sent
        .map((s) => `Sent ${s.url} (${s.status}) for ${out.style.target(plan.gameDate)}`)
        .join('\n'),
  );
}

// ---------------------------------------------------------------------------------------------

async function libContext(ctx: CommandContext): Promise<LibContext> {
  const { out } = ctx;
  return {
    config: ctx.config,
    backends: await ctx.backends(),
    actor: ctx.actor,
    log: (event) => {
      if (event.level === 'warn') out.warn(event.message);
      else if (event.level === 'info') out.debug(event.message);
    },
  };
}

function parsePhase(input: string): RunnablePhase {
  const phase = Number(input);
  if (![2, 3, 4, 5].includes(phase) || String(phase) !== input.trim()) {
    throw new UserError(`Phase "${input}" cannot be run`, {
      hint: 'Accepted: 2, 3, 4 or 5 (phase 1 is the scrapers, outside pipectl).',
    });
  }
  return phase as RunnablePhase;
}

function parseEntities(input: string | undefined): string[] {
  if (input === undefined) return [];
  const entities = input
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e.length > 0);
  if (entities.length === 0) {
    throw new UserError('--entities is empty', {
      hint:
        'Give comma-separated ids such as lebronjames,stephcurry, or drop the option for a full ' +
        'batch.',
    });
  }
  return entities;
}

/** Checked before anything is read, so a missing reason is bad input with no backend call. */
function requireReason(ctx: CommandContext, overrides: string[]): void {
  if (overrides.length === 0 || ctx.globals.reason?.trim()) return;
  throw new UserError(`${overrides.join(' and ')} overrides a safety guard and needs --reason`, {
    hint: 'Say why in a few words, for example --reason "TeamDefense scraper down, INC-123".',
  });
}

function runPlan(ctx: CommandContext, plan: PhaseRunPlan) {
  const { style } = ctx.out;
  const entities = plan.fullBatch
    ? 'full batch'
    : `${plan.entities.length}: ${plan.entities.join(', ')}`;
  const rows: Cell[][] = [
    ['phase', style.target(String(plan.phase))],
    ['date', style.target(plan.gameDate)],
    ['via', `${plan.delivery.via} ${plan.delivery.target}`],
    ['correlation id', plan.correlationId],
    ['idempotency key', plan.trigger.idempotencyKey],
    ['entities', entities],
    ...plan.guards.map((g): Cell[] => [`guard ${g.guard}`, guardText(g, style.danger)]),
  ];
  return {
    summary: `Trigger phase ${plan.phase} for ${plan.gameDate} on ${ctx.config.profileName}`,
    columns: ['item', 'value'],
    rows,
  };
}

function guardText(guard: GuardOutcome, danger: (t: string) => string = (t) => t): string {
  if (guard.state === 'overridden') return danger(`OVERRIDDEN: ${guard.message}`);
  if (guard.state === 'skipped') return danger(guard.message);
  return `${guard.state}: ${guard.message}`;
}

function progressFields(p: PhaseProgress): Record<string, unknown> {
  return {
    phase: p.phase,
    game_date: p.gameDate,
    done: p.done,
    total: p.total,
    missing: p.missing,
    failures: p.failures,
    ...(p.phase === 5 ? { batch_status: p.batchStatus ?? null } : {}),
  };
}

function progressText(p: PhaseProgress): string {
  const unit = p.phase === 5 ? 'predictions' : 'processors';
  return `${p.done}/${p.total} ${unit}`;
}
