/**
 * What a library function needs: the resolved configuration and the backends. The pipeline's
 * own services build one of these the same way the CLI does.
 */

import type { Backends } from './backends/ports.js';
import type { ResolvedConfig } from './config.js';

export interface LibContext {
  config: ResolvedConfig;
  backends: Backends;
  /** Who acts: `user@host` for an operator, a service name for the pipeline itself. */
  actor: string;
  /** Progress and warnings for long operations; the CLI renders them, services log them. */
  log?: (event: LibEvent) => void;
}

export type LibEvent =
  | { level: 'info' | 'warn'; message: string; [key: string]: unknown }
  | { level: 'progress'; done: number; total: number; [key: string]: unknown };
