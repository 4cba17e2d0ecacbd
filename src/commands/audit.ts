import { Option, type Command } from 'commander';

import type { GroupModule } from '../cli.js';
import { action } from '../terminal/context.js';
import { wholeNumber } from '../terminal/options.js';

interface ListOptions {
  limit: string;
  date?: string;
  command?: string;
}

export const register: GroupModule['register'] = (program: Command, exit) => {
  const audit = program
    .command('audit')
    .description('Read the audit trail that every mutating command writes.');

  audit
    .command('list')
    .description('List audit records, newest first.')
    .addOption(new Option('--limit <n>', 'How many records to show.').default('20'))
    .option('--date <date>', 'Only records for this game date (YYYY-MM-DD, today, yesterday).')
    .option('--command <name>', 'Only records whose command starts with this, e.g. "coordinator".')
    .addHelpText(
      'after',
      `
Examples:
  $ pipectl audit list --date today
  $ pipectl audit list --command "orchestrator force-complete" --json`,
    )
    .action(
      action<ListOptions>(async (ctx, options) => {
        const limit = wholeNumber(options.limit, '--limit', { min: 1, max: 1000 });
        const gameDate = options.date === undefined ? undefined : ctx.date(options.date);

        const { listAudit } = await import('../lib/audit.js');
        const backends = await ctx.backends();
        const entries = await listAudit(backends.documents, ctx.config.collections.opsAudit, {
          limit,
          ...(gameDate ? { gameDate } : {}),
          ...(options.command ? { command: options.command } : {}),
        });

        const { out } = ctx;
        out.result({ records: entries }, () =>
          entries.length === 0
            ? 'No audit records match.'
            : out.table(
                ['at', 'actor', 'command', 'date', 'outcome', 'reason'],
                entries.map((e) => [
                  e.at?.toISOString().slice(0, 19).replace('T', ' ') ?? null,
                  e.actor,
                  e.command,
                  e.game_date,
                  e.outcome === 'success'
                    ? out.style.ok(e.outcome)
                    : out.style.fail(String(e.outcome)),
                  e.reason,
                ]),
              ),
        );
      }, exit),
    );
};
