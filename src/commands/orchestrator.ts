import { Option, type Command } from 'commander';

import type { GroupModule } from '../cli.js';
import type { GateView } from '../lib/completion.js';
import type { LibContext } from '../lib/context.js';
import { formatDuration, parseDuration } from '../lib/dates.js';
import { ExitCode, UserError } from '../lib/errors.js';
import type { GatedPhase } from '../lib/pipeline.js';
import { action, type CommandContext } from '../terminal/context.js';
import { wholeNumber } from '../terminal/options.js';
import type { Cell } from '../terminal/output.js';

interface GateOptions {
  phase: string;
  date?: string;
}

interface StuckOptions {
  olderThan: string;
  days: string;
  phase?: string;
}

interface ForceOptions extends GateOptions {
  processor?: string[];
  missing?: boolean;
  trigger: boolean;
}

interface ResetOptions extends GateOptions {
  rerun?: boolean;
}

const PHASE_HELP =
  'Phase whose gate to act on: 2, 3 or 4 (the gate of phase N triggers phase N+1). Required.';
const DATE_HELP = 'Game date: YYYY-MM-DD, today or yesterday (default: today, pipeline time zone).';

export const register: GroupModule['register'] = (program: Command, exit) => {
  const group = program
    .command('orchestrator')
    .description(
      'Inspect and repair the orchestrator gates that start each phase when the previous one ' +
        'completes.',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ pipectl orchestrator show --phase 3 --date today
  $ pipectl orchestrator stuck --older-than 2h            exit 1 when any gate waits too long
  $ pipectl orchestrator force-complete --phase 3 --date today --missing --reason "INC-42"
  $ pipectl orchestrator retrigger --phase 3 --date today
  $ pipectl orchestrator reset --phase 4 --date today --rerun --reason "bad features"`,
    );

  group
    .command('show')
    .description(
      'Show one gate: every expected processor, whether and when it reported, forced or not, ' +
        'the entities it changed, the trigger state, and what run history says about it.',
    )
    .requiredOption('--phase <n>', PHASE_HELP)
    .option('--date <date>', DATE_HELP)
    .addHelpText(
      'after',
      `
Run history is cross-checked: a processor whose run succeeded but whose report never arrived
(a lost message), and one that reported but whose latest run failed, are listed as problems.
A gate marked triggered whose message was never published is listed too; finish it with
\`orchestrator retrigger\`. Exit 0 whatever the gate's state; 2 for an unknown phase.

Examples:
  $ pipectl orchestrator show --phase 2 --date 2026-01-15
  $ pipectl orchestrator show --phase 3 --json | jq .missing`,
    )
    .action(action<GateOptions>(show, exit));

  group
    .command('stuck')
    .description(
      'List gates that have some reports but not all for longer than --older-than, and gates ' +
        'marked triggered whose message was never published. Exit 1 when any is found.',
    )
    .addOption(
      new Option(
        '--older-than <duration>',
        'How long a gate may wait before it counts as stuck, judged by the backend clock: ' +
          '30m, 2h, 1d.',
      ).default('2h'),
    )
    .addOption(
      new Option(
        '--days <n>',
        'How many game dates back from today to check, today included (tomorrow is always ' +
          'checked).',
      ).default('3'),
    )
    .option('--phase <n>', "Only this phase's gate: 2, 3 or 4 (default: all three).")
    .addHelpText(
      'after',
      `
Examples:
  $ pipectl orchestrator stuck                    for cron: exit 1 alerts
  $ pipectl orchestrator stuck --older-than 30m --days 1 --json`,
    )
    .action(action<StuckOptions>(stuck, exit));

  group
    .command('force-complete')
    .description(
      'Record forced reports for processors that will not report, through the same ' +
        'transaction as real reports: when that completes the gate, the next phase is triggered ' +
        'exactly once, however many operators or late processors race it.',
    )
    .requiredOption('--phase <n>', PHASE_HELP)
    .option('--date <date>', DATE_HELP)
    .option(
      '--processor <names...>',
      'Processors to force, by name (one or more). Conflicts with --missing.',
    )
    .option(
      '--missing',
      'Force every processor that has not reported success. Conflicts with --processor.',
    )
    .option(
      '--no-trigger',
      'If this completes the gate, mark it triggered but publish nothing (start the next ' +
        'phase yourself).',
    )
    .addHelpText(
      'after',
      `
--reason is required and kept with each forced report and in the audit record. A processor
that already reported success is left alone; running this twice forces nothing the second time.

Examples:
  $ pipectl orchestrator force-complete --phase 3 --date today --missing --reason "INC-42" --yes
  $ pipectl orchestrator force-complete --phase 2 --date 2026-01-15 \\
      --processor BdlStandingsProcessor --reason "API down, standings unchanged" --dry-run`,
    )
    .action(action<ForceOptions>(forceComplete, exit));

  group
    .command('reset')
    .description(
      'Delete a gate (a copy is kept in the audit record) so its phase can report afresh; with ' +
        '--rerun, also trigger that phase again as a full batch under a new correlation id.',
    )
    .requiredOption('--phase <n>', PHASE_HELP)
    .option('--date <date>', DATE_HELP)
    .option('--rerun', "Publish the phase's own trigger after deleting its gate.")
    .addHelpText(
      'after',
      `
Running reset twice deletes nothing the second time; with --rerun each run starts the phase
again under its own correlation id.

Examples:
  $ pipectl orchestrator reset --phase 3 --date today --dry-run
  $ pipectl orchestrator reset --phase 4 --date today --rerun --reason "features recomputed" --yes`,
    )
    .action(action<ResetOptions>(reset, exit));

  group
    .command('retrigger')
    .description(
      'Publish the trigger of a gate that was marked triggered but never published (a crash ' +
        'between the commit and the publish), with the same idempotency key. Refuses (exit 3) ' +
        'when the trigger was already published.',
    )
    .requiredOption('--phase <n>', PHASE_HELP)
    .option('--date <date>', DATE_HELP)
    .addHelpText(
      'after',
      `
Examples:
  $ pipectl orchestrator retrigger --phase 3 --date today --yes`,
    )
    .action(action<GateOptions>(retriggerCommand, exit));
};

// ---------------------------------------------------------------------------------------------

function parsePhase(input: string): GatedPhase {
  const phase = Number(input);
  if (!/^\d+$/.test(input.trim()) || ![2, 3, 4].includes(phase)) {
    throw new UserError(`--phase "${input}" has no orchestrator gate`, {
      hint: 'Accepted: 2, 3 or 4 (the gate of phase N triggers phase N+1).',
    });
  }
  return phase as GatedPhase;
}

async function lib(ctx: CommandContext): Promise<LibContext> {
  return {
    config: ctx.config,
    backends: await ctx.backends(),
    actor: ctx.actor,
    log: (event) => {
      if (event.level === 'warn') ctx.out.warn(String(event.message));
      else if (event.level === 'info') ctx.out.debug(String(event.message));
    },
  };
}

const time = (d: Date | null | undefined): string | null =>
  d ? d.toISOString().slice(0, 19).replace('T', ' ') : null;

function gateSummary(gate: GateView): string {
  const done = gate.expected.length - gate.missing.length;
  return `${done}/${gate.expected.length} reported`;
}

// ---------------------------------------------------------------------------------------------

async function show(ctx: CommandContext, options: GateOptions): Promise<void> {
  const phase = parsePhase(options.phase);
  const gameDate = ctx.date(options.date);

  const { inspectGate } = await import('../lib/orchestrator.js');
  const { gate, runHistory, problems } = await inspectGate(await lib(ctx), phase, gameDate);

  const runs = new Map(runHistory.latest.map((r) => [r.processor, r]));
  const reports = new Map(gate.reported.map((r) => [r.processor, r]));
  const names = [
    ...gate.expected,
    ...gate.reported.filter((r) => !r.expected).map((r) => r.processor),
  ];
  const processors = names.map((name) => {
    const r = reports.get(name);
    const run = runs.get(name);
    return {
      processor: name,
      expected: gate.expected.includes(name),
      reported: r !== undefined,
      status: r?.status ?? null,
      completed_at: r?.completedAt ?? null,
      correlation_id: r?.correlationId ?? null,
      record_count: r?.recordCount ?? null,
      entities_changed: r?.entitiesChanged ?? [],
      forced: r?.forced ?? false,
      forced_by: r?.forcedBy ?? null,
      reason: r?.reason ?? null,
      latest_run: run
        ? { status: run.status, at: run.at, run_id: run.runId, error_message: run.errorMessage }
        : null,
    };
  });

  const { out } = ctx;
  out.result(
    {
      phase,
      game_date: gameDate,
      exists: gate.exists,
      expected: gate.expected,
      reported: gate.reported.filter((r) => r.status === 'success').map((r) => r.processor),
      failed: gate.reported.filter((r) => r.status === 'failed').map((r) => r.processor),
      missing: gate.missing,
      triggered: gate.triggered,
      triggered_at: gate.triggeredAt,
      trigger_message_id: gate.triggerMessageId,
      trigger_topic: gate.triggerTopic,
      trigger_idempotency_key: gate.triggerIdempotencyKey,
      trigger_published_at: gate.triggerPublishedAt,
      trigger_suppressed: gate.triggerSuppressed,
      unpublished: gate.unpublished,
      correlation_id: gate.correlationId,
      first_report_at: gate.firstReportAt,
      last_report_at: gate.lastReportAt,
      entities: gate.entities,
      full_batch: gate.fullBatch,
      processors,
      run_history: { available: runHistory.available, error: runHistory.error },
      problems,
    },
    () => {
      const head = `Phase ${phase} gate for ${out.style.target(gameDate)}: ${gateSummary(gate)}`;
      const state = !gate.exists
        ? 'No report has arrived yet.'
        : gate.unpublished
          ? out.style.danger(
              `Marked triggered at ${time(gate.triggeredAt)} but phase ${phase + 1}'s trigger was never published.`,
            )
          : gate.triggered
            ? gate.triggerSuppressed
              ? `Completed at ${time(gate.triggeredAt)} without a trigger (--no-trigger).`
              : `Triggered phase ${phase + 1} at ${time(gate.triggeredAt)}, message ${gate.triggerMessageId} (${gate.fullBatch ? 'full batch' : `${gate.entities.length} entities`}).`
            : `Waiting for ${gate.missing.length}: ${gate.missing.join(', ')}.`;
      const table = out.table(
        ['processor', 'report', 'at', 'forced', 'entities', 'latest run'],
        processors.map((p): Cell[] => [
          p.expected ? p.processor : `${p.processor} (not expected)`,
          p.status === 'success'
            ? out.style.ok('success')
            : p.status === 'failed'
              ? out.style.fail('failed')
              : out.style.warn('missing'),
          time(p.completed_at),
          p.forced ? `${p.forced_by}: ${p.reason ?? ''}` : null,
          p.entities_changed.length,
          p.latest_run ? `${p.latest_run.status} ${time(p.latest_run.at) ?? ''}` : null,
        ]),
      );
      const history = runHistory.available
        ? ''
        : `\n${out.style.warn('Run history unavailable')}: ${runHistory.error}`;
      const found = problems.map(
        (p) => `${out.style.warn('problem')} ${p.message}\n  fix: ${p.fix}`,
      );
      return [head, state, table + history, ...found].join('\n');
    },
  );
}

async function stuck(ctx: CommandContext, options: StuckOptions): Promise<void> {
  const olderThanMs = parseDuration(options.olderThan, '--older-than');
  const days = wholeNumber(options.days, '--days', { min: 1, max: 60 });
  const phases = options.phase === undefined ? undefined : [parsePhase(options.phase)];

  const { findStuckGates } = await import('../lib/orchestrator.js');
  const found = await findStuckGates(await lib(ctx), {
    olderThanMs,
    days,
    ...(phases ? { phases } : {}),
  });

  const { out } = ctx;
  out.result(
    {
      now: found.now,
      older_than_ms: olderThanMs,
      dates: found.dates,
      stuck: found.stuck.map((s) => ({
        phase: s.phase,
        game_date: s.gameDate,
        kind: s.kind,
        expected: s.expected,
        reported: s.reported,
        missing: s.missing,
        first_report_at: s.firstReportAt,
        last_report_at: s.lastReportAt,
        age_ms: s.ageMs,
        fix:
          s.kind === 'unpublished'
            ? `pipectl orchestrator retrigger --phase ${s.phase} --date ${s.gameDate}`
            : `pipectl orchestrator show --phase ${s.phase} --date ${s.gameDate}`,
      })),
    },
    () =>
      found.stuck.length === 0
        ? `No stuck gate on ${found.dates[0]} to ${found.dates[found.dates.length - 1]} (older than ${options.olderThan}).`
        : out.table(
            ['phase', 'date', 'state', 'reported', 'for', 'missing'],
            found.stuck.map((s) => [
              s.phase,
              out.style.target(s.gameDate),
              s.kind === 'unpublished' ? out.style.danger('trigger not published') : 'waiting',
              `${s.reported}/${s.expected}`,
              formatDuration(s.ageMs),
              s.missing.join(', '),
            ]),
          ),
  );
  if (found.stuck.length > 0) ctx.fail(ExitCode.failed);
}

async function forceComplete(ctx: CommandContext, options: ForceOptions): Promise<void> {
  const phase = parsePhase(options.phase);
  const gameDate = ctx.date(options.date);
  const named = options.processor ?? [];
  if (named.length > 0 === (options.missing === true)) {
    throw new UserError('Name the processors to force with --processor, or use --missing', {
      hint: 'Give exactly one of --processor NAME... and --missing.',
    });
  }
  const { checkProcessors } = await import('../lib/completion.js');
  checkProcessors(ctx.config, phase, named);
  const reason = ctx.globals.reason?.trim() || null;
  if (!reason) {
    throw new UserError('orchestrator force-complete overrides the gate and needs --reason', {
      hint: 'Say why in a few words, for example --reason "TeamDefense scraper down, INC-123".',
    });
  }

  const { planForceComplete, forceComplete: force } = await import('../lib/orchestrator.js');
  const libCtx = await lib(ctx);
  const plan = await planForceComplete(
    libCtx,
    phase,
    gameDate,
    options.missing ? { missing: true } : { processors: named },
  );
  const { out } = ctx;
  if (plan.targets.length === 0) {
    out.result(
      {
        phase,
        game_date: gameDate,
        changed: false,
        forced: [],
        already_reported: plan.alreadyReported,
        triggered: plan.gate.triggered,
      },
      () =>
        `Nothing to force: ${plan.alreadyReported.length ? `${plan.alreadyReported.join(', ')} already reported` : 'every processor reported'} (${gateSummary(plan.gate)}).`,
    );
    return;
  }

  const next = phase + 1;
  const effect = plan.completes
    ? options.trigger
      ? `this completes the gate and triggers ${out.style.danger(`phase ${next}`)}`
      : `this completes the gate without triggering phase ${next} (--no-trigger)`
    : `${plan.gate.missing.length - plan.targets.length} processor(s) will still be missing`;
  const result = await ctx.mutate({
    command: 'orchestrator force-complete',
    args: {
      phase,
      processors: plan.targets,
      missing: options.missing === true,
      trigger: options.trigger,
    },
    gameDate,
    correlationId: plan.gate.correlationId ?? undefined,
    requireReason: true,
    plan: {
      summary: `Force ${plan.targets.length} report(s) on phase ${phase}'s gate for ${out.style.target(gameDate)} (${gateSummary(plan.gate)}); ${effect}.`,
      columns: ['processor', 'action'],
      rows: [
        ...plan.targets.map((p) => [p, 'record forced success']),
        ...plan.alreadyReported.map((p) => [p, 'skip: already reported']),
      ],
    },
    apply: () => force(libCtx, phase, gameDate, plan.targets, { reason, publish: options.trigger }),
    details: (r) => ({ forced: r.forced, duplicates: r.duplicates, trigger: r.trigger ?? null }),
    outcome: (r) => (r.trigger && !r.trigger.published ? 'partial' : 'success'),
  });
  if (!result.applied) return;

  const r = result.result;
  out.result(
    {
      phase,
      game_date: gameDate,
      changed: r.forced.length > 0,
      forced: r.forced,
      duplicates: r.duplicates,
      already_reported: plan.alreadyReported,
      reported: r.reported,
      expected: r.expected,
      triggered: r.triggered,
      trigger: r.trigger
        ? {
            topic: r.trigger.topic,
            message_id: r.trigger.messageId,
            published: r.trigger.published,
            entities: r.trigger.entities,
            full_batch: r.trigger.fullBatch,
          }
        : null,
    },
    () =>
      [
        `Forced ${r.forced.length} report(s)${r.duplicates.length ? `; ${r.duplicates.join(', ')} reported meanwhile` : ''}: ${r.reported}/${r.expected} reported.`,
        r.trigger
          ? r.trigger.published
            ? `Triggered phase ${next}: message ${r.trigger.messageId} on ${r.trigger.topic}.`
            : `Phase ${next}'s trigger was NOT published; run: pipectl orchestrator retrigger --phase ${phase} --date ${gameDate}`
          : r.triggered
            ? `The gate is complete; phase ${next} was not triggered (--no-trigger).`
            : '',
      ]
        .filter(Boolean)
        .join('\n'),
  );
  if (r.trigger && !r.trigger.published) ctx.fail(ExitCode.failed);
}

async function reset(ctx: CommandContext, options: ResetOptions): Promise<void> {
  const phase = parsePhase(options.phase);
  const gameDate = ctx.date(options.date);
  const rerun = options.rerun === true;

  const { readGate } = await import('../lib/completion.js');
  const { resetGate } = await import('../lib/orchestrator.js');
  const libCtx = await lib(ctx);
  const gate = await readGate(libCtx, phase, gameDate);
  const { out } = ctx;
  if (!gate.exists && !rerun) {
    out.result(
      { phase, game_date: gameDate, deleted: false, rerun: null },
      () => `Phase ${phase}'s gate for ${gameDate} does not exist: nothing to reset.`,
    );
    return;
  }

  const rows: Cell[][] = [];
  if (gate.exists) {
    rows.push([
      `delete ${gate.exists ? `${ctx.config.collections[`phase${phase}Completion`]}/${gameDate}` : ''}`,
      `${gateSummary(gate)}${gate.triggered ? `, triggered phase ${phase + 1} (${gate.triggerMessageId ?? 'not published'})` : ''}`,
    ]);
  }
  if (rerun) {
    rows.push([
      `publish ${ctx.config.topics[`phase${phase}Trigger`]}`,
      `phase ${phase} again, full batch, new correlation id`,
    ]);
  }
  const result = await ctx.mutate({
    command: 'orchestrator reset',
    args: { phase, rerun },
    gameDate,
    plan: {
      summary: `Reset phase ${phase}'s gate for ${out.style.target(gameDate)}${rerun ? ` and ${out.style.danger(`rerun phase ${phase}`)}` : ''}.`,
      columns: ['action', 'detail'],
      rows,
    },
    apply: () => resetGate(libCtx, phase, gameDate, { rerun }),
    details: (r) => ({ gate: r.copy, rerun: r.rerun }),
    outcome: (r) => (r.rerun && !r.rerun.published ? 'partial' : 'success'),
  });
  if (!result.applied) return;

  const r = result.result;
  out.result(
    {
      phase,
      game_date: gameDate,
      deleted: r.deleted,
      rerun: r.rerun
        ? {
            topic: r.rerun.topic,
            correlation_id: r.rerun.correlationId,
            idempotency_key: r.rerun.idempotencyKey,
            message_id: r.rerun.messageId,
            published: r.rerun.published,
            error: r.rerun.error,
          }
        : null,
    },
    () =>
      [
        r.deleted
          ? `Deleted phase ${phase}'s gate for ${gameDate}; its copy is in the audit record.`
          : `No gate to delete.`,
        r.rerun
          ? r.rerun.published
            ? `Triggered phase ${phase}: message ${r.rerun.messageId}, correlation id ${r.rerun.correlationId}.`
            : `Phase ${phase}'s trigger was NOT published: ${r.rerun.error}`
          : '',
      ]
        .filter(Boolean)
        .join('\n'),
  );
  if (r.rerun && !r.rerun.published) ctx.fail(ExitCode.failed);
}

async function retriggerCommand(ctx: CommandContext, options: GateOptions): Promise<void> {
  const phase = parsePhase(options.phase);
  const gameDate = ctx.date(options.date);

  const { planRetrigger, readGate, refuseIfNextPhaseBegan, retrigger } =
    await import('../lib/completion.js');
  const libCtx = await lib(ctx);
  const gate = await readGate(libCtx, phase, gameDate);
  const planned = planRetrigger(gate);
  await refuseIfNextPhaseBegan(libCtx, phase, gameDate);

  const { out } = ctx;
  const result = await ctx.mutate({
    command: 'orchestrator retrigger',
    args: { phase },
    gameDate,
    correlationId: planned.correlationId,
    plan: {
      summary: `Publish phase ${phase + 1}'s trigger for ${out.style.target(gameDate)}, marked at ${time(gate.triggeredAt)} but never published.`,
      columns: ['topic', 'idempotency key', 'entities'],
      rows: [
        [
          planned.topic,
          planned.idempotencyKey,
          planned.fullBatch ? 'full batch' : planned.entities.length,
        ],
      ],
    },
    apply: () => retrigger(libCtx, phase, gameDate),
    details: (r) => ({ message_id: r.messageId, idempotency_key: r.idempotencyKey }),
    outcome: (r) => (r.published ? 'success' : 'failed'),
  });
  if (!result.applied) return;

  const r = result.result;
  out.result(
    {
      phase,
      game_date: gameDate,
      topic: r.topic,
      message_id: r.messageId,
      idempotency_key: r.idempotencyKey,
      published: r.published,
    },
    () =>
      r.published
        ? `Published phase ${phase + 1}'s trigger: message ${r.messageId} (key ${r.idempotencyKey}).`
        : `Phase ${phase + 1}'s trigger was NOT published; the gate still shows it as pending.`,
  );
  if (!r.published) ctx.fail(ExitCode.failed);
}
