import { Option, type Command } from 'commander';

import type { GroupModule } from '../cli.js';
import { ExitCode, UserError, Unavailable } from '../lib/errors.js';
import { action } from '../terminal/context.js';
import { wholeNumber } from '../terminal/options.js';

interface HealthOptions {
  date?: string;
  check?: string[];
  asOf?: string;
  alertWebhook?: string;
  alertAttempts: string;
}

const EXAMPLES = `
Examples:
  $ pipectl health --date today
  $ pipectl health --date today --check prediction-quality --check feature-nulls
  $ pipectl health --date today --json --alert-webhook https://hooks.slack.com/services/T/B/X
  $ pipectl health --date 2026-01-05 --as-of 2026-01-05T14:30:00Z    what cron saw at 09:30 ET

Checks: prediction-quality, prediction-coverage, feature-nulls, zero-changes, empty-output,
orphaned-correlation, duplicate-trigger, stuck-gate, stale-lease (docs/health.md).

Cron (every 15 minutes from 06:00 to 11:00 ET):
  */15 6-11 * * *  pipectl --profile prod health --date today --json > /var/log/pipectl-health.json

Exit codes: 0 no check failed (warnings allowed); 1 at least one check failed; 2 bad input;
4 a backend is unreachable (the alert, if configured, has been sent first).`;

export const register: GroupModule['register'] = (program: Command, exit) => {
  program
    .command('health')
    .description('Run the silent-failure checks for a game date; exit 1 when any fails.')
    .option('--date <date>', 'Game date: YYYY-MM-DD, today or yesterday (default: today).')
    .addOption(
      new Option(
        '--check <name...>',
        'Run only these checks (repeat, or separate with commas). Default: all of them.',
      ),
    )
    .option(
      '--as-of <time>',
      'Judge ages and the SLA as of this ISO time instead of now, for a post-mortem ' +
        '(default: the document store’s server time).',
    )
    .option(
      '--alert-webhook <url>',
      'Post failed checks to this Slack-compatible webhook (default: the profile’s ' +
        'alertWebhook; no alert when neither is set). Nothing is posted when every check passes.',
    )
    .addOption(
      new Option('--alert-attempts <n>', 'Attempts to deliver the alert, with backoff.').default(
        '4',
      ),
    )
    .addHelpText('after', EXAMPLES)
    .action(
      action<HealthOptions>(async (ctx, options) => {
        const { parseCheckNames, runHealth, unreachableReport } =
          await import('../lib/health/index.js');
        const date = ctx.date(options.date);
        const checks = parseCheckNames(options.check);
        const asOf = options.asOf === undefined ? undefined : parseTime(options.asOf);
        const webhook = options.alertWebhook ?? ctx.config.profile.alertWebhook;
        if (webhook !== undefined && !/^https?:\/\/\S+$/.test(webhook)) {
          throw new UserError(`--alert-webhook "${webhook}" is not an http(s) URL`, {
            hint: 'Give the full webhook URL, for example https://hooks.slack.com/services/...',
          });
        }
        const attempts = wholeNumber(options.alertAttempts, '--alert-attempts', {
          min: 1,
          max: 10,
        });

        const request = { date, checks, ...(asOf ? { asOf } : {}) };
        let report;
        try {
          report = await runHealth({ config: ctx.config, backends: await ctx.backends() }, request);
        } catch (error) {
          if (!(error instanceof Unavailable)) throw error;
          report = unreachableReport(request, error);
        }

        const { out } = ctx;
        let alert = null;
        if (webhook && report.status === 'fail') {
          const { postAlert } = await import('../lib/health/alert.js');
          alert = await postAlert(webhook, report, {
            profile: ctx.config.profileName,
            attempts,
            timeoutMs: ctx.config.profile.timeoutMs,
          });
          if (!alert.sent) {
            out.warn(
              `The alert was not delivered after ${alert.attempts} attempts: ${alert.error}`,
            );
          } else out.debug(`Alert delivered in ${alert.attempts} attempt(s)`);
        }

        out.debug(`Warehouse queries: ${report.queries}`);
        out.result({ ...report, alert }, () => {
          const table = out.table(
            ['check', 'status', 'value', 'threshold', 'next'],
            report.checks.map((c) => [
              c.name,
              c.status === 'pass'
                ? out.style.ok('pass')
                : c.status === 'warn'
                  ? out.style.warn('warn')
                  : out.style.fail('fail'),
              c.value,
              c.threshold,
              c.next ?? '',
            ]),
          );
          const details = report.checks
            .filter((c) => c.status !== 'pass' || out.verbose)
            .map((c) => `  ${c.name}: ${c.detail}`);
          const failed = report.checks.filter((c) => c.status === 'fail').length;
          const summary = `${out.style.target(report.game_date)}: ${failed} of ${report.checks.length} checks failed${
            out.verbose ? ` (${report.queries} warehouse queries)` : ''
          }`;
          return [table, '', ...(details.length ? [...details, ''] : []), summary].join('\n');
        });

        if (report.unavailable.length) ctx.fail(ExitCode.unavailable);
        else if (report.status === 'fail') ctx.fail(ExitCode.failed);
      }, exit),
    );
};

function parseTime(input: string): Date {
  const value = new Date(input);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(input) || Number.isNaN(value.getTime())) {
    throw new UserError(`--as-of "${input}" is not a time`, {
      hint: 'Give an ISO time with a zone, for example 2026-01-05T14:30:00Z.',
    });
  }
  return value;
}
