/**
 * The coordinator lease: `coordinator_lock/{game_date}` = `{holder, acquired_at, expires_at}`.
 * Whoever holds a live lease for a date is the only one allowed to fan out its prediction
 * requests. Expiry is judged by the document backend's clock (`serverTime()`), never by the
 * local one, so two machines with skewed clocks still agree on whether a lease is live.
 * Every change is one transaction: read the lease, decide, write, so two contenders that read
 * the same free lease cannot both win (the loser's commit conflicts and it re-reads).
 */

import { hostname } from 'node:os';

import { ServerTimestamp, type DocData } from '../backends/ports.js';
import type { LibContext } from '../context.js';
import type { GameDate } from '../dates.js';
import { UserError } from '../errors.js';
import { leasePath, type LeaseKind } from './paths.js';
import { date, num, str } from './values.js';

export interface Lease {
  holder: string;
  acquiredAt: Date;
  expiresAt: Date;
  /** By the backend's clock at the time of reading. */
  expired: boolean;
  /** Host and process of the holder, when it recorded them (pipectl does). */
  host: string | null;
  pid: number | null;
}

export interface LeaseOptions {
  /** `coordinator` (the default) or `republish`. */
  kind?: LeaseKind;
}

export interface AcquireOptions extends LeaseOptions {
  /**
   * Called with a live lease held by someone else; returning true takes it over. pipectl uses
   * it for a holder on this very host whose process no longer exists (it was killed).
   */
  takeOver?: (current: Lease) => boolean;
}

export async function readLease(
  ctx: LibContext,
  gameDate: GameDate,
  options: LeaseOptions = {},
): Promise<Lease | null> {
  const { documents } = ctx.backends;
  const snapshot = await documents.get(
    leasePath(ctx.config, gameDate, options.kind ?? 'coordinator'),
  );
  if (!snapshot.exists) return null;
  return parseLease(snapshot.data!, await documents.serverTime());
}

/**
 * Takes the lease when it is free or expired (or already ours, which renews it). A live lease
 * held by someone else is returned unchanged with `acquired: false`.
 */
export async function acquireLease(
  ctx: LibContext,
  gameDate: GameDate,
  holder: string,
  ttlSeconds: number = ctx.config.coordinator.leaseSeconds,
  options: AcquireOptions = {},
): Promise<{ acquired: boolean; lease: Lease }> {
  checkHolder(holder);
  checkTtl(ttlSeconds);
  const { documents } = ctx.backends;
  const path = leasePath(ctx.config, gameDate, options.kind ?? 'coordinator');

  return documents.transaction(async (tx) => {
    const snapshot = await tx.get(path);
    const now = await documents.serverTime();
    const current = snapshot.exists ? parseLease(snapshot.data!, now) : null;
    const live = current !== null && !current.expired;
    if (live && current.holder !== holder && !options.takeOver?.(current)) {
      return { acquired: false, lease: current };
    }

    const keep = live && current.holder === holder;
    const lease: Lease = {
      holder,
      acquiredAt: keep ? current.acquiredAt : now,
      expiresAt: new Date(now.getTime() + ttlSeconds * 1000),
      expired: false,
      host: hostname(),
      pid: process.pid,
    };
    tx.set(path, leaseDoc(lease, ttlSeconds, keep ? current.acquiredAt : ServerTimestamp));
    return { acquired: true, lease };
  });
}

/** Extends a lease its holder still has (even if it ran out, as long as nobody took it). */
export async function renewLease(
  ctx: LibContext,
  gameDate: GameDate,
  holder: string,
  ttlSeconds: number = ctx.config.coordinator.leaseSeconds,
  options: LeaseOptions = {},
): Promise<{ renewed: boolean; lease: Lease | null }> {
  checkTtl(ttlSeconds);
  const { documents } = ctx.backends;
  const path = leasePath(ctx.config, gameDate, options.kind ?? 'coordinator');

  return documents.transaction(async (tx) => {
    const snapshot = await tx.get(path);
    const now = await documents.serverTime();
    const current = snapshot.exists ? parseLease(snapshot.data!, now) : null;
    if (current === null || current.holder !== holder) return { renewed: false, lease: current };

    const lease: Lease = {
      ...current,
      expiresAt: new Date(now.getTime() + ttlSeconds * 1000),
      expired: false,
    };
    tx.set(path, leaseDoc(lease, ttlSeconds, current.acquiredAt));
    return { renewed: true, lease };
  });
}

export type ReleaseOutcome =
  | { released: true; lease: Lease }
  | { released: false; lease: Lease | null; reason: 'free' | 'held' };

/**
 * Deletes the lease when `holder` has it, when it has expired (a dead holder's lease is nobody's),
 * or when forced. A live lease of someone else stays, with reason `held`.
 */
export async function releaseLease(
  ctx: LibContext,
  gameDate: GameDate,
  holder: string,
  options: LeaseOptions & { force?: boolean } = {},
): Promise<ReleaseOutcome> {
  const { documents } = ctx.backends;
  const path = leasePath(ctx.config, gameDate, options.kind ?? 'coordinator');

  return documents.transaction(async (tx): Promise<ReleaseOutcome> => {
    const snapshot = await tx.get(path);
    if (!snapshot.exists) return { released: false, lease: null, reason: 'free' };
    const current = parseLease(snapshot.data!, await documents.serverTime());
    if (current.holder !== holder && !current.expired && options.force !== true) {
      return { released: false, lease: current, reason: 'held' };
    }
    // The delete commits only if the lease is unchanged since the read above, so a contender
    // that took the lease in between is never thrown out by a stale decision.
    tx.delete(path);
    return { released: true, lease: current };
  });
}

/** A holder id that says who and where: `pipectl-republish:alice@host:12345:1a2b3c`. */
export function holderId(role: string, actor: string): string {
  return `${role}:${actor}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
}

/** True for a lease whose holder was a process on this host that no longer runs. */
export function heldByDeadLocalProcess(lease: Lease): boolean {
  if (lease.host !== hostname() || lease.pid === null || lease.pid === process.pid) return false;
  try {
    process.kill(lease.pid, 0);
    return false;
  } catch (error) {
    // EPERM means the process exists but belongs to someone else: alive.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function parseLease(data: DocData, now: Date): Lease {
  const expiresAt = date(data.expires_at) ?? new Date(0);
  return {
    holder: str(data.holder) ?? '(unknown)',
    acquiredAt: date(data.acquired_at) ?? new Date(0),
    expiresAt,
    expired: expiresAt.getTime() <= now.getTime(),
    host: str(data.host),
    pid: typeof data.pid === 'number' ? num(data.pid) : null,
  };
}

function leaseDoc(
  lease: Lease,
  ttlSeconds: number,
  acquiredAt: Date | typeof ServerTimestamp,
): DocData {
  return {
    holder: lease.holder,
    acquired_at: acquiredAt,
    expires_at: lease.expiresAt,
    ttl_seconds: ttlSeconds,
    host: lease.host,
    pid: lease.pid,
  };
}

function checkHolder(holder: string): void {
  if (holder.trim() === '' || holder.length > 500) {
    throw new UserError(`Lease holder "${holder}" is not valid`, {
      hint: 'Name the holder in 1 to 500 characters, for example coordinator-instance-7.',
    });
  }
}

function checkTtl(ttlSeconds: number): void {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > 86_400) {
    throw new UserError(`Lease time ${ttlSeconds}s is not valid`, {
      hint: 'Give a whole number of seconds between 1 and 86400.',
    });
  }
}
