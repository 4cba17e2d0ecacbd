/**
 * Opens the backends a profile names. Each adapter is imported only here, on demand, so a
 * command that never touches a backend (and `--help`) never loads DuckDB or the Google clients.
 */

import type { ResolvedConfig } from '../config.js';
import type { Backends } from './ports.js';

export async function openBackends(config: ResolvedConfig): Promise<Backends> {
  if (config.profile.backend === 'local') {
    const { openLocalBackends } = await import('./local/index.js');
    return openLocalBackends({
      path: config.profile.sandbox!,
      timeoutMs: config.profile.timeoutMs,
    });
  }
  const { openGcpBackends } = await import('./gcp/index.js');
  return openGcpBackends(config.profile);
}
