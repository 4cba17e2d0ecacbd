import { Option, type Command } from 'commander';

import type { GroupModule } from '../cli.js';
import { ExitCode } from '../lib/errors.js';
import { formatDuration } from '../lib/dates.js';
import { action } from '../terminal/context.js';
import { wholeNumber } from '../terminal/options.js';

interface InspectOptions {
  date?: string;
}

interface VerifyOptions {
  date?: string;
  table: string;
  sample: string;
}

export const register: GroupModule['register'] = (program: Command, exit) => {
  const changes = program
    .command('changes')
    .description(
      'Look at change detection: what each processor reported, and whether row hashes hold.',
    );

  changes
    .command('inspect')
    .description(
      'Per processor: runs, entities processed and changed, full or incremental batch, and a ' +
        'flag when every run of a game day changed nothing. Always exits 0; `health` judges.',
    )
    .option('--date <date>', 'Game date: YYYY-MM-DD, today or yesterday (default: today).')
    .addHelpText(
      'after',
      `
Examples:
  $ pipectl changes inspect --date today
  $ pipectl changes inspect --date 2026-01-05 --json`,
    )
    .action(
      action<InspectOptions>(async (ctx, options) => {
        const date = ctx.date(options.date);
        const { inspectChanges } = await import('../lib/changes.js');
        const backends = await ctx.backends();
        const report = await inspectChanges(backends.warehouse, ctx.config, date);

        const { out } = ctx;
        if (report.truncated) out.warn('The run history for this date was cut at 20000 runs.');
        out.result(report, () => {
          if (report.processors.length === 0)
            return `No runs recorded for ${out.style.target(date)}.`;
          const now = Date.now();
          const table = out.table(
            [
              'phase',
              'processor',
              'runs',
              'last run',
              'processed',
              'changed',
              'batch',
              'today',
              'flag',
            ],
            report.processors.map((p) => [
              p.phase,
              p.processor,
              p.failed_runs ? `${p.runs} (+${p.failed_runs} failed)` : p.runs,
              p.last_run_at ? `${formatDuration(now - p.last_run_at.getTime())} ago` : '-',
              p.entities_processed,
              p.entities_changed,
              p.batch,
              p.changed_today,
              p.zero_change ? out.style.warn('zero-change') : '',
            ]),
          );
          const flagged = report.zero_change_processors;
          const summary = flagged
            ? `${flagged} of ${report.processors.length} processors changed nothing all day on ${out.style.target(date)}; ` +
              'if that is all of them, suspect the row hash: pipectl changes verify-hash ' +
              '--table T --date D'
            : `Every processor reported changes on ${out.style.target(date)}.`;
          return `${table}\n\n${summary}`;
        });
      }, exit),
    );

  changes
    .command('verify-hash')
    .description(
      'Recompute the row hash of stored rows and compare it with their data_hash. Exit 1 on ' +
        'any mismatch, or when every row carries the same hash (a broken hash).',
    )
    .requiredOption(
      '--table <dataset.table>',
      'A processor output table or the feature store (see pipectl config show).',
    )
    .option('--date <date>', 'Game date: YYYY-MM-DD, today or yesterday (default: today).')
    .addOption(new Option('--sample <n>', 'Rows to read, at most 100000.').default('1000'))
    .addHelpText(
      'after',
      '\nExamples:\n  $ pipectl changes verify-hash --table nba_predictions.ml_feature_store_v2 --date today\n' +
        '  $ pipectl changes verify-hash --table nba_analytics.player_game_summary --date 2026-01-05 --sample 200 --json\n\n' +
        `The hash covers every column except data_hash, processed_at and created_at.
Exit 0 hashes hold; 1 mismatch or collapsed hash; 2 bad input (an unknown table).`,
    )
    .action(
      action<VerifyOptions>(async (ctx, options) => {
        const date = ctx.date(options.date);
        const sample = wholeNumber(options.sample, '--sample', { min: 1, max: 100_000 });
        const { assertHashedTable, verifyHash } = await import('../lib/changes.js');
        // Checked before any backend is opened: bad input reads and writes nothing.
        assertHashedTable(ctx.config, options.table);
        const backends = await ctx.backends();
        const result = await verifyHash(backends.warehouse, ctx.config, {
          table: options.table,
          date,
          sample,
        });

        const { out } = ctx;
        out.result(result, () => {
          if (result.rows === 0) {
            return `${result.table} has no rows for ${out.style.target(date)}: nothing to verify.`;
          }
          const lines = [
            out.table(
              ['table', 'rows', 'mismatches', 'distinct hashes', 'ratio', 'verdict'],
              [
                [
                  result.table,
                  result.rows,
                  result.mismatches,
                  result.distinct_hashes,
                  result.distinct_ratio?.toFixed(3),
                  result.ok ? out.style.ok('ok') : out.style.fail('broken'),
                ],
              ],
            ),
          ];
          if (result.collapsed) {
            lines.push(
              `Every row carries the same hash: change detection cannot see any change (docs/runbooks/zero-changes.md).`,
            );
          }
          for (const m of result.mismatch_examples) {
            lines.push(
              `  ${m.entity ?? '?'}: stored ${m.stored ?? 'NULL'}, recomputed ${m.recomputed}`,
            );
          }
          return lines.join('\n');
        });
        if (!result.ok) ctx.fail(ExitCode.failed);
      }, exit),
    );
};
