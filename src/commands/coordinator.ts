/**
 * `pipectl coordinator`: the Phase 5 coordinator's batch state and lease, and the recovery
 * after a coordinator restart: reconstruct what is missing from the warehouse, republish only
 * those players, and clear a lease its holder left behind.
 */

import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { Option, type Command } from 'commander';

import type { GroupModule } from '../cli.js';
import type { LibContext } from '../lib/context.js';
import type { GameDate } from '../lib/dates.js';
import { ExitCode, Refusal, UserError } from '../lib/errors.js';
import type { Lease, LeaseKind, RepublishPlan } from '../lib/coordinator/index.js';
import { action, type CommandContext } from '../terminal/context.js';
import { wholeNumber } from '../terminal/options.js';

interface DateOptions {
  date?: string;
}
interface ReconstructOptions extends DateOptions {
  since?: string;
  write?: boolean;
  force?: boolean;
}
interface RepublishCommandOptions extends DateOptions {
  players?: string;
  limit?: string;
  rate?: string;
  since?: string;
  force?: boolean;
}
interface LockOptions extends DateOptions {
  lease: LeaseKind;
  force?: boolean;
}

const DATE_HELP = 'Game date: YYYY-MM-DD, today or yesterday (default: today, pipeline time zone).';
const SINCE_HELP =
  'Count only predictions written at or after this moment: an ISO timestamp, or "batch" for ' +
  'the batch start in the batch state (default: every prediction of the date).';

export const register: GroupModule['register'] = (program: Command, exit) => {
  const group = program
    .command('coordinator')
    .description('Inspect and recover the Phase 5 coordinator: batch state, lease, republish.');

  group
    .command('show')
    .description('Show the batch state, the lease, predictions written and how stale the state is.')
    .option('--date <date>', DATE_HELP)
    .addHelpText(
      'after',
      `
Examples:
  $ pipectl coordinator show --date today
  $ pipectl coordinator show --date 2026-01-15 --json

The batch is stale when it is running and its state has not changed for longer than
coordinator.staleAfterMinutes, judged by the backend clock.`,
    )
    .action(action<DateOptions>((ctx, o) => show(ctx, o), exit));

  group
    .command('reconstruct')
    .description(
      'Work out from the warehouse which players the batch expects, which have predictions ' +
        'and which are missing.',
    )
    .option('--date <date>', DATE_HELP)
    .option('--since <time>', SINCE_HELP)
    .option(
      '--write',
      'Rebuild the batch state (counts, status, completion markers) from the result. A ' +
        'guarded mutation: shows the plan, needs --yes without a terminal, honours --dry-run.',
    )
    .option(
      '--force',
      'With --write: rewrite the state although a live coordinator holds the lease. Needs ' +
        '--reason.',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ pipectl coordinator reconstruct --date today
  $ pipectl coordinator reconstruct --date today --json | jq -r '.missing[]'
  $ pipectl coordinator reconstruct --date today --write --yes

Expected players are the production-ready feature-store rows of the date; one warehouse
query computes expected, completed and missing.`,
    )
    .action(action<ReconstructOptions>((ctx, o) => reconstructCommand(ctx, o), exit));

  group
    .command('republish')
    .description(
      'Publish prediction-request for exactly the players expected, not predicted and not ' +
        'already republished.',
    )
    .option('--date <date>', DATE_HELP)
    .option(
      '--players <list>',
      'Only these players (comma-separated player_lookup values); each must still be expected ' +
        'and missing.',
    )
    .option('--limit <n>', 'Publish at most N requests in this run; the rest stay for the next.')
    .option(
      '--rate <n/s>',
      'At most this many messages per second, for example 50/s (default: unlimited).',
    )
    .option('--since <time>', SINCE_HELP)
    .option(
      '--force',
      'Go ahead although a live coordinator holds the lease. Needs --reason. Never overrides ' +
        'another republish run.',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ pipectl coordinator republish --date today --dry-run
  $ pipectl coordinator republish --date today --yes --rate 100/s
  $ pipectl coordinator republish --date today --players "lebron-james,o'neal-shaquille" --yes
  $ pipectl coordinator republish --date today --yes --json   (NDJSON events, summary last)

Requests go out in batches of coordinator.publishBatchSize; each batch is written to the
ledger predictions/{date}/republished/{player} right after it is published, so after Ctrl-C,
a crash or a partial failure the same command publishes only the rest. Exit 1 when any
request failed, 3 when another republish runs or a live coordinator holds the lease.`,
    )
    .action(action<RepublishCommandOptions>((ctx, o) => republishCommand(ctx, o), exit));

  const leaseOption = new Option('--lease <kind>', 'Which lease: coordinator or republish.')
    .choices(['coordinator', 'republish'])
    .default('coordinator');

  group
    .command('lock')
    .description('Show the coordinator lease of a date: holder, expiry, live or expired.')
    .option('--date <date>', DATE_HELP)
    .addOption(leaseOption)
    .addHelpText('after', '\nExamples:\n  $ pipectl coordinator lock --date today --json')
    .action(action<LockOptions>((ctx, o) => lockCommand(ctx, o), exit));

  group
    .command('unlock')
    .description('Release an expired lease, or a live one with --force and --reason.')
    .option('--date <date>', DATE_HELP)
    .addOption(leaseOption)
    .option(
      '--force',
      'Release a live lease. Only when its holder is known to be dead; needs --reason.',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ pipectl coordinator unlock --date today --yes
  $ pipectl coordinator unlock --date today --force --reason "instance killed, INC-42" --yes

Exit 3 when the lease is live and --force is not given.`,
    )
    .action(action<LockOptions>((ctx, o) => unlockCommand(ctx, o), exit));
};

async function libContext(ctx: CommandContext): Promise<LibContext> {
  return { config: ctx.config, backends: await ctx.backends(), actor: ctx.actor };
}

function requireReasonWithForce(ctx: CommandContext, force: boolean | undefined): void {
  if (force === true && !ctx.globals.reason?.trim()) {
    throw new UserError('--force overrides a safety guard and needs --reason', {
      hint: 'Say why in a few words, for example --reason "coordinator instance dead, INC-42".',
    });
  }
}

// ---------------------------------------------------------------------------------------------
// show

async function show(ctx: CommandContext, options: DateOptions): Promise<void> {
  const gameDate = ctx.date(options.date);
  const { describeCoordinator } = await import('../lib/coordinator/index.js');
  const view = await describeCoordinator(await libContext(ctx), gameDate);
  const { out } = ctx;
  const { batch } = view;

  out.result(
    {
      game_date: gameDate,
      batch: batch.exists
        ? {
            batch_id: batch.batchId,
            correlation_id: batch.correlationId,
            status: batch.status,
            expected: batch.expected,
            completed: batch.completed,
            started_at: batch.startedAt,
            updated_at: batch.updatedAt,
            instance: batch.instance,
          }
        : null,
      lease: leaseJson(view.lease, view.serverTime),
      republish_lease: leaseJson(view.republishLease, view.serverTime),
      predictions_written: view.predictionsWritten,
      server_time: view.serverTime,
      updated_seconds_ago: view.updatedSecondsAgo,
      stale: view.stale,
      stale_after_minutes: ctx.config.coordinator.staleAfterMinutes,
    },
    () => {
      const lines = [`Coordinator for ${out.style.target(gameDate)}`];
      if (!batch.exists) lines.push('  batch      none: no batch state for this date');
      else {
        lines.push(
          `  batch      ${batch.batchId ?? '(no id)'}  ${batch.status ?? '(no status)'}  ${batch.completed}/${batch.expected} predicted`,
          `  started    ${iso(batch.startedAt)} by ${batch.instance ?? 'unknown'}, correlation ${batch.correlationId ?? '-'}`,
          `  updated    ${iso(batch.updatedAt)}, ${ago(view.updatedSecondsAgo)}${view.stale ? `  ${out.style.danger(`stale (over ${ctx.config.coordinator.staleAfterMinutes}m while running)`)}` : ''}`,
        );
      }
      lines.push(`  lease      ${leaseText(view.lease, view.serverTime)}`);
      if (view.republishLease) {
        lines.push(`  republish  ${leaseText(view.republishLease, view.serverTime)}`);
      }
      lines.push(
        `  warehouse  ${view.predictionsWritten === null ? 'no predictions table' : `${view.predictionsWritten} players have predictions`}`,
      );
      if (view.stale) {
        lines.push(
          '',
          `Next: pipectl coordinator reconstruct --date ${gameDate}, then coordinator republish.`,
        );
      }
      return lines.join('\n');
    },
  );
}

// ---------------------------------------------------------------------------------------------
// reconstruct

async function reconstructCommand(ctx: CommandContext, options: ReconstructOptions): Promise<void> {
  const gameDate = ctx.date(options.date);
  if (options.force && !options.write) {
    throw new UserError('--force only applies with --write', {
      hint: 'Drop --force, or add --write to rebuild the batch state.',
    });
  }
  requireReasonWithForce(ctx, options.force);
  const sinceInput = options.since;

  const lib = await import('../lib/coordinator/index.js');
  const libCtx = await libContext(ctx);
  const since = await resolveSince(libCtx, gameDate, sinceInput);
  const found = await lib.reconstruct(libCtx, gameDate, {
    since,
    withPredicted: options.write === true,
  });
  const { out } = ctx;

  const report = {
    game_date: gameDate,
    since,
    expected: found.expected,
    completed: found.completed,
    missing_count: found.missing.length,
    missing: found.missing,
    latest_batch_id: found.latestBatchId,
    latest_correlation_id: found.latestCorrelationId,
  };
  const render = () => {
    const shown = found.missing.slice(0, 50);
    const lines = [
      `${out.style.target(gameDate)}: ${found.expected} expected, ${found.completed} predicted, ${found.missing.length} missing`,
    ];
    if (shown.length > 0) lines.push('', ...shown.map((p) => `  ${p}`));
    if (found.missing.length > shown.length) {
      lines.push(`  ... and ${found.missing.length - shown.length} more (--json lists all)`);
    }
    return lines.join('\n');
  };

  if (!options.write) {
    out.result(report, render);
    return;
  }

  if (options.force !== true) {
    const lease = await lib.readLease(libCtx, gameDate);
    if (lease && !lease.expired) {
      throw new Refusal(
        `A live coordinator holds the lease for ${gameDate} (${lease.holder}); its batch state is its own`,
        { hint: 'Wait for the lease to expire, or add --force --reason "..." if it is dead.' },
      );
    }
  }
  const before = await lib.readBatch(libCtx, gameDate);
  const status = found.missing.length === 0 ? 'complete' : 'running';
  const outcome = await ctx.mutate({
    command: 'coordinator reconstruct --write',
    args: { date: gameDate, since: since?.toISOString() ?? null, force: options.force === true },
    gameDate,
    correlationId: before.correlationId ?? found.latestCorrelationId ?? undefined,
    requireReason: options.force === true,
    plan: {
      summary: `Rebuild the batch state of ${gameDate} from the warehouse (${found.completed} completion markers)`,
      columns: ['field', 'now', 'after'],
      rows: [
        ['batch_id', before.batchId, before.batchId ?? found.latestBatchId ?? '(new)'],
        ['status', before.status, status],
        ['expected', before.exists ? before.expected : null, found.expected],
        ['completed', before.exists ? before.completed : null, found.completed],
      ],
    },
    apply: () => lib.rebuildBatch(libCtx, gameDate, found),
    details: (r) => ({
      expected: found.expected,
      completed: found.completed,
      markers: r.markersWritten,
    }),
  });
  if (!outcome.applied) return;

  const after = outcome.result.after;
  out.result(
    {
      ...report,
      written: {
        batch_id: after.batchId,
        status: after.status,
        expected: after.expected,
        completed: after.completed,
      },
    },
    () =>
      `${render()}\n\nBatch state rebuilt: ${after.batchId} ${after.status} ${after.completed}/${after.expected}.`,
  );
}

async function resolveSince(
  ctx: LibContext,
  gameDate: GameDate,
  input: string | undefined,
): Promise<Date | null> {
  if (input === undefined) return null;
  if (input.trim().toLowerCase() === 'batch') {
    const { readBatch } = await import('../lib/coordinator/index.js');
    const batch = await readBatch(ctx, gameDate);
    if (batch.startedAt === null) {
      throw new UserError(`--since batch: there is no batch start recorded for ${gameDate}`, {
        hint: 'Give an ISO timestamp instead, or drop --since to count every prediction of the date.',
      });
    }
    return batch.startedAt;
  }
  const value = new Date(input);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(input.trim()) || Number.isNaN(value.getTime())) {
    throw new UserError(`--since "${input}" is not a timestamp`, {
      hint: 'Accepted: an ISO timestamp such as 2026-01-15T13:00:00Z, or "batch".',
    });
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// republish

async function republishCommand(
  ctx: CommandContext,
  options: RepublishCommandOptions,
): Promise<void> {
  const gameDate = ctx.date(options.date);
  const players = options.players === undefined ? undefined : parsePlayers(options.players);
  const limit =
    options.limit === undefined ? undefined : wholeNumber(options.limit, '--limit', { min: 1 });
  const lib = await import('../lib/coordinator/index.js');
  const rate = options.rate === undefined ? undefined : lib.parseRate(options.rate);
  requireReasonWithForce(ctx, options.force);

  const libCtx = await libContext(ctx);
  const since = await resolveSince(libCtx, gameDate, options.since);
  const selection = { players, limit, since };
  // Making sure the topic exists also opens the Pub/Sub connection, off the critical path;
  // a dry run writes nothing, so it skips it.
  const topicReady = ctx.globals.dryRun
    ? Promise.resolve(false)
    : libCtx.backends.bus.ensureTopic(ctx.config.topics.predictionRequest).then(
        () => true,
        // Not fatal here: publishing tries again and reports the error where it matters.
        () => false,
      );
  const [{ coordinator: overridden }, plan] = await Promise.all([
    lib.checkRepublishLeases(libCtx, gameDate, { force: options.force }),
    lib.planRepublish(libCtx, gameDate, selection),
  ]);
  const { out } = ctx;

  if (plan.requests.length === 0) {
    const skipped = Object.values(plan.skipped).reduce((a, b) => a + b, 0);
    const summary = { event: 'summary', game_date: gameDate, published: 0, skipped, failed: 0 };
    if (out.json) out.event(summary);
    else
      out.result(
        summary,
        () =>
          `Nothing to republish for ${out.style.target(gameDate)}: ${describeSkipped(plan.skipped)}.`,
      );
    return;
  }

  if (overridden) {
    out.warn(
      `${out.style.danger('Overriding')} the live coordinator lease of ${overridden.holder}`,
    );
  }
  const batchSize = ctx.config.coordinator.publishBatchSize;
  const outcome = await ctx.mutate({
    command: 'coordinator republish',
    args: {
      date: gameDate,
      players: players?.length ?? null,
      limit: limit ?? null,
      rate: rate ?? null,
      force: options.force === true,
    },
    gameDate,
    correlationId: plan.correlationId,
    requireReason: options.force === true,
    plan: {
      summary: `Publish ${plan.requests.length} ${ctx.config.topics.predictionRequest} messages for ${gameDate} (batch ${plan.batchId}, ids from the ${plan.idsFrom}) in batches of ${batchSize}; skip ${describeSkipped(plan.skipped)}`,
      columns: ['player_lookup', 'attempt'],
      rows: [
        ...plan.requests.slice(0, 10).map((r) => [r.player, r.attempt]),
        ...(plan.requests.length > 10 ? [[`... and ${plan.requests.length - 10} more`, null]] : []),
      ],
    },
    apply: async () =>
      runRepublish(ctx, libCtx, plan, {
        batchSize,
        rate,
        force: options.force,
        topicReady: await topicReady,
      }),
    details: (r) => ({
      published: r.published,
      skipped: r.skipped,
      failed: r.failed,
      interrupted: r.interrupted,
    }),
    outcome: (r) =>
      r.failed > 0 || r.interrupted ? (r.published > 0 ? 'partial' : 'failed') : 'success',
  });
  if (!outcome.applied) return;

  const result = outcome.result;
  const summary = {
    event: 'summary',
    game_date: gameDate,
    published: result.published,
    skipped: result.skipped,
    failed: result.failed,
    interrupted: result.interrupted,
    remaining: result.remaining,
    failures: result.failures,
  };
  if (out.json) out.event(summary);
  else {
    out.result(summary, () => {
      const lines = [
        `Published ${result.published}, skipped ${result.skipped}, failed ${result.failed}.`,
      ];
      for (const f of result.failures.slice(0, 10))
        lines.push(`  ${out.style.fail('failed')} ${f.player}: ${f.error}`);
      if (result.interrupted)
        lines.push(
          `Stopped early: ${result.remaining} requests left; run the same command again to send them.`,
        );
      else if (result.failed > 0)
        lines.push('Run the same command again to retry the failed requests.');
      return lines.join('\n');
    });
  }
  if (result.failed > 0 || result.interrupted) ctx.fail(ExitCode.failed);
}

async function runRepublish(
  ctx: CommandContext,
  libCtx: LibContext,
  preview: RepublishPlan,
  options: {
    batchSize: number;
    rate: number | undefined;
    force: boolean | undefined;
    topicReady: boolean;
  },
) {
  const lib = await import('../lib/coordinator/index.js');
  const { out } = ctx;
  const { gameDate } = preview;
  const holder = lib.holderId('pipectl-republish', ctx.actor);
  const leases = await lib.takeRepublishLeases(libCtx, gameDate, holder, { force: options.force });

  // Ctrl-C stops between batches, after the batch in flight is published and in the ledger;
  // a second Ctrl-C stops at once (the next run then repeats at most that one batch).
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
    out.warn('Stopping after the current batch; press Ctrl-C again to stop at once.');
  };
  process.on('SIGINT', onSigint);
  try {
    // Under the lease the ledger is read again: another run may have finished since the plan.
    const plan = await lib.refreshPlan(libCtx, preview);
    out.event({
      event: 'start',
      game_date: gameDate,
      batch_id: plan.batchId,
      correlation_id: plan.correlationId,
      requests: plan.requests.length,
      batch_size: options.batchSize,
    });
    const progress = out.json ? null : await out.progress('Publishing', plan.requests.length);
    const result = await lib.publishRequests(libCtx, plan, {
      batchSize: options.batchSize,
      ratePerSecond: options.rate,
      signal: controller.signal,
      leases,
      topicReady: options.topicReady,
      onBatch: (report) => {
        keepHeapSmall();
        progress?.tick(report.published + report.failed.length);
        out.event({
          event: 'batch',
          batch: report.batch,
          published: report.published,
          failed: report.failed.length,
          done: report.done,
          total: report.total,
        });
        for (const failure of report.failed) out.event({ event: 'failed', ...failure });
      },
    });
    progress?.finish(
      `Published ${result.published} of ${plan.requests.length}`,
      result.failed === 0,
    );
    return result;
  } finally {
    process.off('SIGINT', onSigint);
    await lib.releaseRepublishLeases(libCtx, gameDate, leases);
  }
}

/** Heap in use above which a bulk run collects its garbage before the next batch. */
const HEAP_CEILING_BYTES = 64 * 1024 * 1024;
let collect: (() => void) | null | undefined;

/**
 * V8 collects old-generation garbage lazily: publishing 50,000 requests through the Google
 * clients leaves ~150 MB of dead objects before the first full collection, pushing the
 * process past 250 MB although less than 50 MB is alive. A full collection once the heap
 * passes a ceiling keeps the peak near the live size (under 200 MB for 50,000 players) at the
 * cost of a few tens of milliseconds per collection.
 * Limitation: it relies on enabling `gc` at run time (`--expose-gc` through node:v8 and a vm
 * context), which Node supports but documents as unusual; without it the run still works,
 * with the higher peak.
 */
function keepHeapSmall(): void {
  if (collect === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      collect = runInNewContext('gc') as () => void;
    } catch {
      collect = null;
    }
  }
  if (collect && getHeapStatistics().used_heap_size > HEAP_CEILING_BYTES) collect();
}

function parsePlayers(input: string): string[] {
  const players = [
    ...new Set(
      input
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p.length > 0),
    ),
  ];
  if (players.length === 0) {
    throw new UserError('--players names no player', {
      hint:
        'Give comma-separated player_lookup values, for example --players ' +
        'lebron-james,stephen-curry.',
    });
  }
  return players;
}

function describeSkipped(s: {
  predicted: number;
  republished: number;
  notExpected: number;
  overLimit: number;
}): string {
  return `${s.predicted} already predicted, ${s.republished} already republished, ${s.notExpected} not expected, ${s.overLimit} over --limit`;
}

// ---------------------------------------------------------------------------------------------
// lock / unlock

async function lockCommand(ctx: CommandContext, options: LockOptions): Promise<void> {
  const gameDate = ctx.date(options.date);
  const { readLease } = await import('../lib/coordinator/index.js');
  const libCtx = await libContext(ctx);
  const lease = await readLease(libCtx, gameDate, { kind: options.lease });
  const now = await libCtx.backends.documents.serverTime();
  ctx.out.result(
    { game_date: gameDate, kind: options.lease, lease: leaseJson(lease, now), server_time: now },
    () => `${options.lease} lease for ${ctx.out.style.target(gameDate)}: ${leaseText(lease, now)}`,
  );
}

async function unlockCommand(ctx: CommandContext, options: LockOptions): Promise<void> {
  const gameDate = ctx.date(options.date);
  requireReasonWithForce(ctx, options.force);
  const lib = await import('../lib/coordinator/index.js');
  const libCtx = await libContext(ctx);
  const lease = await lib.readLease(libCtx, gameDate, { kind: options.lease });
  const now = await libCtx.backends.documents.serverTime();
  const { out } = ctx;

  if (lease === null) {
    out.result(
      { game_date: gameDate, kind: options.lease, released: false, reason: 'free' },
      () => `No ${options.lease} lease for ${gameDate}: nothing to release.`,
    );
    return;
  }
  if (!lease.expired && options.force !== true) {
    throw new Refusal(
      `The ${options.lease} lease for ${gameDate} is live: ${leaseText(lease, now)}`,
      {
        hint:
          'Wait until it expires, or add --force --reason "..." if its holder is known to be ' +
          'dead.',
      },
    );
  }

  const outcome = await ctx.mutate({
    command: 'coordinator unlock',
    args: { date: gameDate, lease: options.lease, force: options.force === true },
    gameDate,
    requireReason: !lease.expired,
    plan: {
      summary: `Release the ${options.lease} lease of ${gameDate}${lease.expired ? ' (expired)' : ` (${out.style.danger('live')})`}`,
      columns: ['holder', 'acquired_at', 'expires_at', 'state'],
      rows: [
        [
          lease.holder,
          iso(lease.acquiredAt),
          iso(lease.expiresAt),
          lease.expired ? 'expired' : 'live',
        ],
      ],
    },
    apply: () =>
      lib.releaseLease(libCtx, gameDate, `operator:${ctx.actor}`, {
        kind: options.lease,
        force: options.force === true,
      }),
    details: (r) => ({
      released: r.released,
      holder: r.lease?.holder ?? null,
      expires_at: r.lease?.expiresAt.toISOString() ?? null,
    }),
    outcome: (r) => (r.released ? 'success' : 'failed'),
  });
  if (!outcome.applied) return;
  const result = outcome.result;
  if (!result.released) {
    // Between the read and the release someone renewed or took the lease.
    throw new Refusal(`The ${options.lease} lease for ${gameDate} changed and is live again`, {
      hint: 'Run `pipectl coordinator lock` to see who holds it now.',
    });
  }
  out.result(
    { game_date: gameDate, kind: options.lease, released: true, holder: result.lease.holder },
    () => `Released the ${options.lease} lease of ${gameDate} held by ${result.lease.holder}.`,
  );
}

// ---------------------------------------------------------------------------------------------

function leaseJson(lease: Lease | null, now: Date) {
  if (lease === null) return null;
  return {
    holder: lease.holder,
    acquired_at: lease.acquiredAt,
    expires_at: lease.expiresAt,
    expired: lease.expired,
    seconds_left: Math.max(0, Math.round((lease.expiresAt.getTime() - now.getTime()) / 1000)),
    host: lease.host,
    pid: lease.pid,
  };
}

function leaseText(lease: Lease | null, now: Date): string {
  if (lease === null) return 'free';
  const left = Math.round((lease.expiresAt.getTime() - now.getTime()) / 1000);
  return lease.expired
    ? `expired at ${iso(lease.expiresAt)} (held by ${lease.holder})`
    : `held by ${lease.holder} until ${iso(lease.expiresAt)} (live, ${left}s left)`;
}

function iso(value: Date | null): string {
  return value === null ? '-' : value.toISOString();
}

function ago(seconds: number | null): string {
  if (seconds === null) return 'never';
  if (seconds < 120) return `${seconds}s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m ago`;
  return `${Math.round(seconds / 3600)}h ago`;
}
