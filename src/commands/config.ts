import type { Command } from 'commander';

import type { GroupModule } from '../cli.js';
import { action } from '../terminal/context.js';

export const register: GroupModule['register'] = (program: Command, exit) => {
  const config = program
    .command('config')
    .description('Inspect the configuration pipectl resolves from defaults, file and profile.');

  config
    .command('show')
    .description('Print the resolved configuration for the chosen profile.')
    .addHelpText('after', '\nExamples:\n  $ pipectl config show --profile staging --json')
    .action(
      action(async (ctx) => {
        const resolved = ctx.config;
        ctx.out.result(resolved, () =>
          [
            `source   ${resolved.source}`,
            `profile  ${ctx.out.style.target(resolved.profileName)} (${resolved.profile.backend})`,
            '',
            JSON.stringify(resolved, null, 2),
          ].join('\n'),
        );
      }, exit),
    );
};
