/**
 * Shared set-up for the orchestrator tests: a fresh sandbox file, a library context on it, and
 * a configuration whose gates can expect any number of synthetic processors.
 */

import { openLocalBackends, type LocalBackends } from '../../src/lib/backends/local/index.js';
import { loadConfig, type ResolvedConfig } from '../../src/lib/config.js';
import type { LibContext } from '../../src/lib/context.js';
import type { GameDate } from '../../src/lib/dates.js';
import type { ProcessorDef } from '../../src/lib/pipeline.js';
import { tempSandbox } from '../helpers/cli.js';

export const DATE = '2026-01-15' as GameDate;

export interface LocalLib {
  ctx: LibContext;
  backends: LocalBackends;
  sandbox: string;
}

export function openLocal(
  config: ResolvedConfig = loadConfig({ env: {} }),
  sandbox = tempSandbox(),
): LocalLib {
  const backends = openLocalBackends({ path: sandbox });
  return { ctx: { config, backends, actor: 'test@orchestrator' }, backends, sandbox };
}

/** A configuration whose phase 3 gate expects `count` synthetic processors. */
export function syntheticConfig(count: number): ResolvedConfig {
  const base = loadConfig({ env: {} });
  const phase3: ProcessorDef[] = Array.from({ length: count }, (_, i) => ({
    name: `SyntheticProcessor${String(i + 1).padStart(3, '0')}`,
    table: 'nba_analytics.synthetic',
    entityColumn: 'player_lookup',
  }));
  return { ...base, processors: { ...base.processors, phase3 } };
}
