/** Helpers for sandbox tests: a fresh file, the CLI pointed at it, and direct reads of it. */

import { openLocalBackends, type LocalBackends } from '../../src/lib/backends/local/index.js';
import { loadConfig, type ResolvedConfig } from '../../src/lib/config.js';
import type { LibContext } from '../../src/lib/context.js';
import { todayIn, type GameDate } from '../../src/lib/dates.js';
import { runCli, tempSandbox, type CliResult } from '../helpers/cli.js';

export const TODAY: GameDate = todayIn('America/Los_Angeles');

export interface Sandbox {
  path: string;
  cli(args: string[], timeoutMs?: number): Promise<CliResult>;
  /** Opens the file in this process; close it before the next CLI call. */
  open(): LibContext & { backends: LocalBackends; config: ResolvedConfig };
}

export function sandbox(): Sandbox {
  const path = tempSandbox('pipectl-sandbox-test-');
  return {
    path,
    cli: (args, timeoutMs = 180_000) =>
      runCli(args, { env: { PIPECTL_SANDBOX: path, PIPECTL_PROFILE: undefined }, timeoutMs }),
    open: () => ({
      config: loadConfig({ sandbox: path, env: {}, cwd: '/' }),
      backends: openLocalBackends({ path }),
      actor: 'test@host',
    }),
  };
}

/** Runs `fn` over `items` with at most `limit` at a time (two cores, several inits). */
export async function limited<T, R>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!);
      }
    }),
  );
  return results;
}
