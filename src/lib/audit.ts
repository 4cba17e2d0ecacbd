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
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const id = `${stamp}-${Math.random().toString(36).slice(2, 10)}`;
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

export interface AuditEntry extends Partial<AuditRecord> {
  id: string;
  at: Date | null;
}

export interface AuditQuery {
  limit: number;
  gameDate?: string;
  command?: string;
}

/**
 * The newest audit records first. Filters apply after reading a bounded window, because the
 * document store cannot filter on every backend; the window is a few times the limit.
 */
export async function listAudit(
  documents: Documents,
  collection: string,
  query: AuditQuery,
): Promise<AuditEntry[]> {
  const filtered = query.gameDate !== undefined || query.command !== undefined;
  const window = filtered ? Math.max(query.limit * 20, 500) : query.limit;
  const snapshots = await documents.list(collection, { limit: window, descending: true });
  return snapshots
    .map((s) => ({ ...(s.data as Partial<AuditRecord>), id: s.id, at: asDate(s.data?.at) }))
    .filter((e) => query.gameDate === undefined || e.game_date === query.gameDate)
    .filter((e) => query.command === undefined || e.command?.startsWith(query.command))
    .slice(0, query.limit);
}

function asDate(value: unknown): Date | null {
  return value instanceof Date ? value : null;
}
