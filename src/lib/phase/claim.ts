/**
 * The trigger claim: `phase run` writes `phase_triggers/{date}-phase{N}` in the same
 * transaction that checks it, before it sends. Two operators (or a runbook and a cron job)
 * who trigger the same phase for the same date seconds apart would both pass the run-history
 * guard, because the first trigger's processors have not written a `running` row yet; the
 * claim closes that window. It lapses after a few minutes, by the backend's clock, by which
 * time the run-history guard sees the phase running.
 */

import { docPath } from '../backends/paths.js';
import { ServerTimestamp } from '../backends/ports.js';
import type { LibContext } from '../context.js';
import type { GameDate } from '../dates.js';
import { Refusal } from '../errors.js';
import type { RunnablePhase } from '../pipeline.js';

/** Long enough for processors to start and write `running` rows; short enough to forget. */
export const TRIGGER_CLAIM_MS = 10 * 60 * 1000;

export interface TriggerClaim {
  correlationId: string;
  holder: string;
  claimedAt: Date;
  expiresAt: Date;
}

export function claimPath(ctx: LibContext, phase: RunnablePhase, gameDate: GameDate): string {
  return docPath(ctx.config.collections.phaseTriggers, `${gameDate}-phase${phase}`);
}

/** The live claim for a phase and date, or null when none or lapsed. */
export async function liveClaim(
  ctx: LibContext,
  phase: RunnablePhase,
  gameDate: GameDate,
): Promise<TriggerClaim | null> {
  const [snapshot, now] = await Promise.all([
    ctx.backends.documents.get(claimPath(ctx, phase, gameDate)),
    ctx.backends.documents.serverTime(),
  ]);
  const claim = parseClaim(snapshot.data);
  return claim && claim.expiresAt > now ? claim : null;
}

/**
 * Takes the claim, or refuses (exit 3) when another trigger holds a live one. With `force`
 * the claim is taken over; the caller has recorded why.
 */
export async function claimTrigger(
  ctx: LibContext,
  args: { phase: RunnablePhase; gameDate: GameDate; correlationId: string; force: boolean },
): Promise<TriggerClaim> {
  const path = claimPath(ctx, args.phase, args.gameDate);
  const now = await ctx.backends.documents.serverTime();
  const expiresAt = new Date(now.getTime() + TRIGGER_CLAIM_MS);
  return ctx.backends.documents.transaction(async (tx) => {
    const existing = parseClaim((await tx.get(path)).data);
    if (existing && existing.expiresAt > now && !args.force) throw refusal(args, existing);
    tx.set(path, {
      phase: args.phase,
      game_date: args.gameDate,
      correlation_id: args.correlationId,
      holder: ctx.actor,
      claimed_at: ServerTimestamp,
      expires_at: expiresAt,
    });
    return { correlationId: args.correlationId, holder: ctx.actor, claimedAt: now, expiresAt };
  });
}

export function refusal(
  args: { phase: RunnablePhase; gameDate: GameDate },
  claim: TriggerClaim,
): Refusal {
  return new Refusal(
    `Phase ${args.phase} for ${args.gameDate} was triggered at ${claim.claimedAt.toISOString()} ` +
      `by ${claim.holder} (correlation ${claim.correlationId}); ` +
      'a second trigger now would run it twice',
    {
      hint:
        `Check that run with \`pipectl status --date ${args.gameDate}\`; trigger again after ` +
        `${claim.expiresAt.toISOString()}, or pass --force --reason "..." if it never started.`,
    },
  );
}

function parseClaim(data: Record<string, unknown> | undefined): TriggerClaim | null {
  if (!data) return null;
  const { correlation_id, holder, claimed_at, expires_at } = data;
  if (
    typeof correlation_id !== 'string' ||
    typeof holder !== 'string' ||
    !(claimed_at instanceof Date) ||
    !(expires_at instanceof Date)
  ) {
    return null;
  }
  return { correlationId: correlation_id, holder, claimedAt: claimed_at, expiresAt: expires_at };
}
