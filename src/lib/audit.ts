/**
 * The audit trail: one `ops_audit` document per mutating command, written after the change
 * (successful or not) so that "who forced Phase 4 on the 12th, and why" has an answer.
 */

import { hostname, userInfo } from 'node:os';

import { ServerTimestamp, type Documents } from './backends/ports.js';

export interface AuditRecord {
  command: string;
  args: Record<string, unknown>;
  profile: string;
  actor: string;
  reason: string | null;
  correlation_id: string | null;
  game_date: string | null;
  dry_run: boolean;
  outcome: 'success' | 'failed' | 'partial';
  error?: string;
  /** Anything the command needs to keep: a copy of a deleted document, counts. */
  details?: Record<string, unknown>;
}

export async function writeAudit(
  documents: Documents,
  collection: string,
  record: AuditRecord,
): Promise<string> {
  // Ids sort by time and never collide, which keeps `audit list` cheap on every backend.
  const id = `${new Date().toISOString().replace(/[:.]/g, '-')}-${Math.random().toString(36).slice(2, 10)}`;
  await documents.create(`${collection}/${id}`, { ...stripUndefined(record), at: ServerTimestamp });
  return id;
}

export function defaultActor(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PIPECTL_ACTOR) return env.PIPECTL_ACTOR;
  let user = env.USER ?? 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // Some containers have no passwd entry for the uid; the environment is the best we have.
  }
  return `${user}@${hostname()}`;
}

function stripUndefined<T extends object>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (v === undefined ? null : v))) as T;
}
