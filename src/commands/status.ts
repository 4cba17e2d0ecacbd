import type { Command } from 'commander';

import type { GroupModule } from '../cli.js';
import { formatDuration } from '../lib/dates.js';
import { ExitCode } from '../lib/errors.js';
import type { StatusReport } from '../lib/status.js';
import { action } from '../terminal/context.js';
import type { Output } from '../terminal/output.js';

interface StatusOptions {
  date?: string;
}

export const register: GroupModule['register'] = (program: Command, exit) => {
  program
    .command('status')
    .description(
      'Show the whole pipeline for a game date on one screen: gates, failed runs, the ' +
        'coordinator batch, locks, the deadline, a diagnosis and the command to run next.',
    )
    .option('--date <date>', 'Game date (YYYY-MM-DD, today or yesterday). Default: today.')
    .addHelpText(
      'after',
      `
Examples:
  $ pipectl status
  $ pipectl status --date 2026-01-15 --json | jq -r .next
  $ pipectl status --profile prod --date yesterday

Exit 0 when nothing is wrong (or the pipeline is simply still running), 1 when a problem is
diagnosed, 4 when a backend cannot be reached.`,
    )
    .action(
      action<StatusOptions>(async (ctx, options) => {
        const gameDate = ctx.date(options.date);
        const { pipelineStatus } = await import('../lib/status.js');
        const report = await pipelineStatus(
          { config: ctx.config, backends: await ctx.backends(), actor: ctx.actor },
          gameDate,
        );
        ctx.out.result(report, () => render(report, ctx.out));
        if (!report.healthy) ctx.fail(ExitCode.failed);
      }, exit),
    );
};

function render(report: StatusReport, out: Output): string {
  const { style } = out;
  const now = report.checked_at.getTime();
  const ago = (d: Date | null) => (d ? `${formatDuration(now - d.getTime())} ago` : '-');
  const lines = [
    `Pipeline ${style.target(report.game_date)} on ${style.target(report.profile)} · ${report.deadline.text}`,
    '',
    out.table(
      ['gate', 'reported', 'triggered', 'last report', 'missing'],
      report.gates.map((g) => [
        `phase ${g.phase}`,
        g.exists ? `${g.reported}/${g.expected}` : '-',
        g.exists ? (g.triggered ? 'yes' : style.warn('no')) : '-',
        ago(g.last_report_at),
        g.missing.length === 0 ? '-' : g.exists ? g.missing.join(', ') : `(no reports yet)`,
      ]),
    ),
    '',
  ];

  if (report.failed_runs.length > 0) {
    lines.push('Failed runs');
    for (const run of report.failed_runs) {
      lines.push(
        `  ${run.phase}  ${style.fail(run.processor)}  ${ago(run.started_at)}  ${run.error ?? ''}`,
      );
    }
  } else {
    lines.push('Failed runs  none');
  }

  const c = report.coordinator;
  lines.push(
    c.exists
      ? `Coordinator  batch ${c.batch_id} ${c.status === 'complete' ? style.ok('complete') : style.warn(String(c.status))}` +
          ` · ${c.completed}/${c.expected} counted · ${c.written ?? '?'} predictions written` +
          ` (${c.nan ?? '?'} NaN) · updated ${ago(c.updated_at)}${c.stale ? ` ${style.fail('(stale)')}` : ''}`
      : `Coordinator  no batch · ${c.written ?? '?'} predictions written`,
  );
  if (report.features) {
    lines.push(
      `Features     ${report.features.rows} rows for ${report.features.players} players · ` +
        `${report.features.null_critical} with NULL critical features`,
    );
  }
  const lock = report.lock;
  lines.push(
    lock === null
      ? 'Lock         none'
      : `Lock         held by ${lock.holder}, ` +
          (lock.expired
            ? style.warn(`expired ${formatDuration(now - lock.expires_at.getTime())} ago`)
            : `expires in ${formatDuration(lock.expires_at.getTime() - now)}`),
  );
  if (report.pending_starts) {
    lines.push(`Queued       ${report.pending_starts} coordinator start(s) not yet served`);
  }
  for (const what of report.unavailable) lines.push(style.warn(`Unreadable   ${what}`));
  if (report.problems.length > 1) {
    lines.push('', `Also found (${report.problems.length - 1})`);
    for (const p of report.problems.slice(1)) lines.push(`  - ${p.message}`);
  }

  lines.push(
    '',
    `Diagnosis  ${report.healthy ? style.ok(report.diagnosis) : style.danger(report.diagnosis)}`,
    `Next       ${style.target(report.next)}`,
  );
  return lines.join('\n');
}
