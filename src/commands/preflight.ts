import { Option, type Command } from 'commander';

import type { GroupModule } from '../cli.js';
import { ExitCode } from '../lib/errors.js';
import { action } from '../terminal/context.js';
import { wholeNumber } from '../terminal/options.js';

interface PreflightOptions {
  deadline: string;
}

export const register: GroupModule['register'] = (program: Command, exit) => {
  program
    .command('preflight')
    .description('Check that every backend of the profile answers within a deadline.')
    .addOption(
      new Option('--deadline <ms>', 'Deadline for each backend, in milliseconds.').default('5000'),
    )
    .addHelpText(
      'after',
      `
Examples:
  $ pipectl preflight --profile staging
  $ pipectl preflight --json

Exit 4 when any backend is unreachable.`,
    )
    .action(
      action<PreflightOptions>(async (ctx, options) => {
        const deadline = wholeNumber(options.deadline, '--deadline', { min: 1, max: 600_000 });

        const { preflight } = await import('../lib/preflight.js');
        const checks = await preflight(await ctx.backends(), deadline);

        const { out } = ctx;
        out.result({ profile: ctx.config.profileName, checks }, () =>
          out.table(
            ['backend', 'status', 'ms', 'detail'],
            checks.map((c) => [
              c.backend,
              c.ok ? out.style.ok('ok') : out.style.fail('unreachable'),
              c.ms,
              c.ok ? c.target : c.error,
            ]),
          ),
        );
        if (checks.some((c) => !c.ok)) ctx.fail(ExitCode.unavailable);
      }, exit),
    );
};
