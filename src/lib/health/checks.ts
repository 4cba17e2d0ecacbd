/**
 * The silent-failure checks. Each turns one failure mode that raises no error in the pipeline
 * (stale predictions served after a broken hash, NaN predictions, NULL features, a success
 * that wrote nothing, a lost correlation id, a double run, a stuck gate, a dead coordinator's
 * lease) into a pass, warn or fail with the measured value, the threshold it was judged by and
 * the command to run next. Thresholds come from `config.health`; docs/health.md explains each.
 */

import { formatDuration, timeToDeadline } from '../dates.js';
import type { RunRecord } from '../changes.js';
import { stuckGate, type StuckGate } from '../orchestrator.js';
import { allProcessors, type HealthData } from './data.js';

export const CHECK_NAMES = [
  'prediction-quality',
  'prediction-coverage',
  'feature-nulls',
  'zero-changes',
  'empty-output',
  'orphaned-correlation',
  'duplicate-trigger',
  'stuck-gate',
  'stale-lease',
] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface CheckResult {
  name: CheckName;
  status: CheckStatus;
  /** What was measured, short enough for a table cell. */
  value: string;
  /** What it was judged against. */
  threshold: string;
  detail: string;
  /** The command (or runbook) to run next; null when there is nothing to do. */
  next: string | null;
  /** The raw numbers behind `value`, for scripts. */
  measures: Record<string, number | string | boolean | null>;
}

type Outcome = Omit<CheckResult, 'name'>;
type Check = (data: HealthData) => Promise<Outcome>;

const pct = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;
const runbookRun = (name: string, data: HealthData) =>
  `pipectl runbook run ${name} --date ${data.date}`;
// Ratios are compared with a little slack so that exactly-at-threshold values (5 of 100
// predictions bad against a 5% limit) pass despite floating-point rounding.
const EPSILON = 1e-9;

export const CHECKS: Record<CheckName, Check> = {
  'prediction-quality': async (data): Promise<Outcome> => {
    const {
      predictionMeanMin: min,
      predictionMeanMax: max,
      predictionBadRatioMax: badMax,
    } = data.config.health;
    const s = await data.predictionStats();
    const threshold = `mean ${min}–${max}, NaN/NULL ≤ ${pct(badMax)}`;
    const next = runbookRun('bad-predictions', data);
    if (s.predictions === 0) {
      return {
        status: 'pass',
        value: 'no predictions',
        threshold,
        detail: `No predictions for ${data.date} yet; prediction-coverage judges whether that is late.`,
        next: null,
        measures: { predictions: 0, mean: null, bad_ratio: null },
      };
    }
    const bad = s.nullCount + s.nanCount;
    const badRatio = bad / s.predictions;
    const problems: string[] = [];
    if (badRatio > badMax + EPSILON) {
      problems.push(`${bad} of ${s.predictions} predictions are NaN or NULL (${pct(badRatio)})`);
    }
    if (s.mean === null) problems.push('no prediction is a finite number');
    else if (s.mean < min || s.mean > max) {
      problems.push(`mean predicted_points ${s.mean.toFixed(2)} is outside ${min}–${max}`);
    }
    return {
      status: problems.length ? 'fail' : 'pass',
      value: `mean ${s.mean === null ? 'n/a' : s.mean.toFixed(2)}, bad ${pct(badRatio)}`,
      threshold,
      detail: problems.length
        ? `${problems.join('; ')}.`
        : `${s.predictions} predictions, ${s.nanCount} NaN, ${s.nullCount} NULL.`,
      next: problems.length ? next : null,
      measures: {
        predictions: s.predictions,
        nan: s.nanCount,
        null: s.nullCount,
        mean: s.mean,
        bad_ratio: badRatio,
      },
    };
  },

  'prediction-coverage': async (data): Promise<Outcome> => {
    const { coverageWarnRatio: warnRatio, coverageFailWithinMinutes: failWithin } =
      data.config.health;
    const [s, now, { runs }] = await Promise.all([data.predictionStats(), data.now(), data.runs()]);
    const left = timeToDeadline(data.date, data.config.sla, now);
    const deadline = `${data.config.sla.deadline} ${data.config.sla.timezone}`;
    const threshold = `≥ ${pct(warnRatio)} of ready players; fails from ${failWithin}m before ${deadline}`;
    const next = `pipectl coordinator republish --date ${data.date}`;
    const measures = {
      ready: s.ready,
      covered: s.covered,
      ratio: s.ready ? s.covered / s.ready : null,
      ms_to_deadline: left,
    };
    const timeLeft =
      left >= 0
        ? `${formatDuration(left)} before the deadline`
        : `${formatDuration(-left)} past the deadline`;

    if (s.ready === 0) {
      const gameDay = runs.some((r) => r.status === 'success');
      const late = left <= failWithin * 60_000;
      return {
        status: !gameDay ? 'pass' : late ? 'fail' : 'warn',
        value: 'no ready players',
        threshold,
        detail: gameDay
          ? `The feature store has no production-ready players for ${data.date} (${timeLeft}): Phase 4 has not finished, or wrote nothing usable.`
          : `No runs and no production-ready players for ${data.date}: not a game day.`,
        next: gameDay ? `pipectl status --date ${data.date}` : null,
        measures,
      };
    }

    const ratio = s.covered / s.ready;
    const missing = s.ready - s.covered;
    const value = `${s.covered}/${s.ready} (${pct(ratio)})`;
    if (missing === 0) {
      return {
        status: 'pass',
        value,
        threshold,
        detail: 'Every production-ready player has a prediction.',
        next: null,
        measures,
      };
    }
    if (ratio + EPSILON >= warnRatio) {
      return {
        status: 'warn',
        value,
        threshold,
        detail: `${missing} production-ready players have no prediction (${timeLeft}).`,
        next,
        measures,
      };
    }
    const late = left <= failWithin * 60_000;
    return {
      status: late ? 'fail' : 'warn',
      value,
      threshold,
      detail: late
        ? `${missing} production-ready players have no prediction, ${timeLeft}.`
        : `${missing} production-ready players have no prediction yet; ${timeLeft}, so there is time.`,
      next,
      measures,
    };
  },

  'feature-nulls': async (data): Promise<Outcome> => {
    const { featureNullRatioMax: max, criticalFeatures } = data.config.health;
    const f = await data.featureNulls();
    const table = data.config.tables.featureStore;
    const threshold = `≤ ${pct(max)} NULL in ${criticalFeatures.join(', ')}`;
    const next = runbookRun('bad-predictions', data);
    if (f.missingColumns.length) {
      return {
        status: 'fail',
        value: `missing ${f.missingColumns.join(', ')}`,
        threshold,
        detail: `${table} has no column ${f.missingColumns.join(', ')}; fix health.criticalFeatures or the table.`,
        next: 'pipectl config show',
        measures: { rows: f.rows },
      };
    }
    if (f.rows === 0) {
      return {
        status: 'pass',
        value: 'no feature rows',
        threshold,
        detail: `${table} has no rows for ${data.date}; empty-output and prediction-coverage judge whether it should.`,
        next: null,
        measures: { rows: 0 },
      };
    }
    const ratios = f.nulls.map((n) => ({ ...n, ratio: n.nulls / f.rows }));
    const worst = ratios.reduce((a, b) => (b.ratio > a.ratio ? b : a));
    const over = ratios.filter((r) => r.ratio > max + EPSILON);
    return {
      status: over.length ? 'fail' : 'pass',
      value: `${worst.column} ${pct(worst.ratio)}`,
      threshold,
      detail: over.length
        ? `${over.map((r) => `${r.column}: ${r.nulls} of ${f.rows} NULL (${pct(r.ratio)})`).join('; ')}.`
        : `${f.rows} feature rows; worst column ${worst.column} at ${pct(worst.ratio)} NULL.`,
      next: over.length ? next : null,
      measures: {
        rows: f.rows,
        ...Object.fromEntries(ratios.map((r) => [`${r.column}_null_ratio`, r.ratio])),
      },
    };
  },

  'zero-changes': async (data): Promise<Outcome> => {
    const { zeroChangeHours: hours, firstRunMinEntities: minFirst } = data.config.health;
    const { runs } = await data.runs();
    // Change detection is a Phase 2-4 matter: Phase 5 "changes" every player it predicts.
    const ok = runs.filter(
      (r) => r.status === 'success' && r.processedAt && CHANGE_PHASES.includes(r.phase),
    );
    const threshold = `> 0 changed in the last ${hours}h of runs; first pass ≥ ${minFirst} entities`;
    const next = runbookRun('zero-changes', data);
    if (ok.length === 0) {
      return {
        status: 'pass',
        value: 'no runs',
        threshold,
        detail: `No successful runs for ${data.date}: not a game day, or nothing has run yet.`,
        next: null,
        measures: { runs: 0 },
      };
    }

    // The window ends at the newest run rather than the clock, so a cron job and a post-mortem
    // a day later judge the same runs.
    const last = Math.max(...ok.map((r) => r.processedAt!.getTime()));
    const window = ok.filter((r) => r.processedAt!.getTime() >= last - hours * 3_600_000);
    const changed = window.reduce((sum, r) => sum + (r.entitiesChanged ?? 0), 0);
    const thin = firstRunsBelow(data, ok, minFirst);

    const problems: string[] = [];
    if (changed === 0) {
      problems.push(
        `all ${window.length} runs in the ${hours}h up to ${new Date(last).toISOString()} reported zero changed entities (a broken row hash looks exactly like this)`,
      );
    }
    if (thin !== null) {
      problems.push(
        `the day's first pass processed at most ${thin} entities per player processor (fewer than ${minFirst})`,
      );
    }
    return {
      status: problems.length ? 'fail' : 'pass',
      value: `${changed} changed in ${window.length} runs`,
      threshold,
      detail: problems.length
        ? `${capitalize(problems.join('; '))}.`
        : `${changed} entities changed across ${window.length} runs in the last ${hours}h of runs.`,
      next: problems.length ? next : null,
      measures: {
        runs: ok.length,
        window_runs: window.length,
        changed,
        thin_first_pass: thin,
      },
    };
  },

  'empty-output': async (data): Promise<Outcome> => {
    const { runs } = await data.runs();
    const threshold = 'every table a successful run wrote has rows for the date';
    const counts = await data.outputCounts();
    const empty = counts.filter((c) => c.rows === 0 || c.rows === null);
    const problems = empty.map((c) =>
      c.error ? `${c.table} (${firstLine(c.error)})` : `${c.table} (0 rows)`,
    );
    let checked = counts.length;

    const phase5 = runs.some((r) => r.phase === 'phase_5' && r.status === 'success');
    if (phase5) {
      checked += 1;
      const s = await data.predictionStats();
      if (s.predictions === 0) problems.push(`${data.config.tables.predictions} (0 rows)`);
    }
    if (checked === 0) {
      return {
        status: 'pass',
        value: 'no successful runs',
        threshold,
        detail: `No processor reported success for ${data.date}.`,
        next: null,
        measures: { tables: 0, empty: 0 },
      };
    }
    const owners = (table: string) =>
      allProcessors(data.config)
        .filter((p) => p.table === table)
        .map((p) => p.name);
    return {
      status: problems.length ? 'fail' : 'pass',
      value: `${problems.length} of ${checked} tables empty`,
      threshold,
      detail: problems.length
        ? `Reported success but wrote nothing for ${data.date}: ${problems.join(', ')}${
            empty.length ? ` (written by ${empty.flatMap((c) => owners(c.table)).join(', ')})` : ''
          }.`
        : `${checked} output tables have rows for ${data.date}.`,
      next: problems.length ? runbookRun('empty-output', data) : null,
      measures: { tables: checked, empty: problems.length },
    };
  },

  'orphaned-correlation': async (data): Promise<Outcome> => {
    const { orphanAfterMinutes } = data.config.health;
    const [{ runs }, now] = await Promise.all([data.runs(), data.now()]);
    const threshold = `every phase 2/3 correlation id reaches phase 5 within ${orphanAfterMinutes}m (or by the SLA)`;
    const pastDeadline = timeToDeadline(data.date, data.config.sla, now) <= 0;
    // Lost means the pipeline went on without it: Phase 5 ran for the date under another id.
    // When Phase 5 never ran at all the id is not lost but held up, and stuck-gate,
    // stale-lease or prediction-coverage name the place where it waits.
    const phase5Ran = runs.some((r) => r.phase === 'phase_5');
    const byId = new Map<string, RunRecord[]>();
    for (const run of runs) {
      if (run.correlationId)
        byId.set(run.correlationId, [...(byId.get(run.correlationId) ?? []), run]);
    }

    const orphaned: { id: string; lastPhase: string }[] = [];
    let inFlight = 0;
    for (const [id, list] of byId) {
      const early = list.filter((r) => r.phase === 'phase_2' || r.phase === 'phase_3');
      if (early.length === 0 || list.some((r) => r.phase === 'phase_5')) continue;
      if (!phase5Ran) {
        inFlight += 1;
        continue;
      }
      const lastEarly = Math.max(...early.map((r) => r.processedAt?.getTime() ?? 0));
      const age = now.getTime() - lastEarly;
      if (pastDeadline || age >= orphanAfterMinutes * 60_000) {
        orphaned.push({
          id,
          lastPhase: list
            .map((r) => r.phase)
            .sort()
            .at(-1)!,
        });
      } else inFlight += 1;
    }
    return {
      status: orphaned.length ? 'fail' : 'pass',
      value: `${orphaned.length} orphaned`,
      threshold,
      detail: orphaned.length
        ? `Lost before Phase 5: ${orphaned
            .slice(0, 5)
            .map((o) => `${o.id} (last seen in ${o.lastPhase})`)
            .join(', ')}${orphaned.length > 5 ? ` and ${orphaned.length - 5} more` : ''}.`
        : `${byId.size} correlation ids${inFlight ? `, ${inFlight} still in flight` : ''}.`,
      next: orphaned.length ? runbookRun('orphaned-correlation', data) : null,
      measures: { correlation_ids: byId.size, orphaned: orphaned.length, in_flight: inFlight },
    };
  },

  'duplicate-trigger': async (data): Promise<Outcome> => {
    const { runs } = await data.runs();
    const triggered = runs.filter((r) => r.status === 'success' && r.triggerMessageId);
    // Two ways one phase runs twice: the same trigger message delivered and processed twice
    // (redelivery), or two trigger messages published for one correlation id (two
    // orchestrator instances both saw "N-1 of N"). A deliberate re-run gets a new correlation
    // id, so it is neither.
    const byTrigger = groupBy(triggered, (r) => `${r.processor}\u0000${r.triggerMessageId}`);
    const byCorrelation = groupBy(
      triggered.filter((r) => r.correlationId),
      (r) => `${r.processor}\u0000${r.correlationId}`,
    );
    const redelivered = [...byTrigger.values()].filter((list) => list.length > 1);
    const twice = [...byCorrelation.values()].filter(
      (list) => new Set(list.map((r) => r.triggerMessageId)).size > 1,
    );
    const doubled = redelivered.length + twice.length;

    const lines: string[] = [];
    for (const [phase, lists] of groupBy(twice, (l) => l[0]!.phase)) {
      const triggers = new Set(lists.flatMap((l) => l.map((r) => r.triggerMessageId)));
      lines.push(
        `${phase.replace('_', ' ')} was triggered ${triggers.size} times for correlation ${lists[0]![0]!.correlationId}: ${lists.length} processors ran once per trigger (${lists
          .slice(0, 3)
          .map((l) => l[0]!.processor)
          .join(', ')}${lists.length > 3 ? ', ...' : ''})`,
      );
    }
    for (const list of redelivered.slice(0, 5)) {
      lines.push(
        `${list[0]!.processor} ran ${list.length}× for trigger ${list[0]!.triggerMessageId}`,
      );
    }
    return {
      status: doubled ? 'fail' : 'pass',
      value: `${doubled} double runs`,
      threshold:
        'one successful run per processor and trigger; one trigger per phase and correlation id',
      detail: doubled
        ? `${capitalize(lines.join('; '))}.`
        : `${byTrigger.size} triggered runs, each answering its own trigger.`,
      next: doubled ? runbookRun('double-trigger', data) : null,
      measures: { redelivered: redelivered.length, triggered_twice: twice.length },
    };
  },

  'stuck-gate': async (data): Promise<Outcome> => {
    const { stuckGateMinutes } = data.config.health;
    const [gates, now] = await Promise.all([data.gates(), data.now()]);
    // The orchestrator's own judgement (`orchestrator stuck`), applied to this one date.
    const stuck = gates
      .map((gate) => stuckGate(gate, now, stuckGateMinutes * 60_000))
      .filter((gate): gate is StuckGate => gate !== null);
    const waiting = gates.filter(
      (g) => g.exists && !g.triggered && !stuck.some((s) => s.phase === g.phase),
    );
    const describe = (s: StuckGate) =>
      s.kind === 'unpublished'
        ? `phase ${s.phase} is marked triggered but its trigger was never published (${formatDuration(s.ageMs)})`
        : `phase ${s.phase} is waiting on ${s.missing.slice(0, 3).join(', ')}${
            s.missing.length > 3 ? ` and ${s.missing.length - 3} more` : ''
          } (${s.reported}/${s.expected} for ${formatDuration(s.ageMs)})`;
    return {
      status: stuck.length ? 'fail' : 'pass',
      value: `${stuck.length} stuck`,
      threshold: `no gate partly complete for ${stuckGateMinutes}m`,
      detail: stuck.length
        ? `${capitalize(stuck.map(describe).join('; '))}.`
        : waiting.length
          ? `In progress: ${waiting
              .map(
                (g) =>
                  `phase ${g.phase} ${g.expected.length - g.missing.length}/${g.expected.length}`,
              )
              .join(', ')}.`
          : 'Every gate that opened has triggered.',
      next: stuck.length
        ? runbookRun(stuck[0]!.kind === 'unpublished' ? 'lost-trigger' : 'stuck-orchestrator', data)
        : null,
      measures: { stuck: stuck.length, waiting: waiting.length },
    };
  },

  'stale-lease': async (data): Promise<Outcome> => {
    const staleMinutes = data.config.coordinator.staleAfterMinutes;
    const [{ lease, batch }, now] = await Promise.all([data.lease(), data.now()]);
    const threshold = `lease unexpired while a batch runs; batch progress within ${staleMinutes}m`;
    const problems: string[] = [];
    const notes: string[] = [];
    const complete = batch.status === 'complete';
    // Judged against `now` rather than the lease's own `expired` flag so that --as-of gives a
    // post-mortem the answer cron would have seen then.
    const expired = lease !== null && lease.expiresAt.getTime() <= now.getTime();

    if (lease && expired) {
      const line = `the lease held by ${lease.holder} expired ${formatDuration(
        now.getTime() - lease.expiresAt.getTime(),
      )} ago`;
      if (complete) notes.push(`${line}, after the batch completed`);
      else problems.push(`${line} and the batch is ${batch.status ?? 'missing'}`);
    }
    if (batch.status === 'running' && batch.updatedAt) {
      const idle = now.getTime() - batch.updatedAt.getTime();
      if (idle >= staleMinutes * 60_000) {
        problems.push(
          `the running batch (${batch.completed}/${batch.expected}) has not progressed for ${formatDuration(idle)}`,
        );
      }
    }
    return {
      status: problems.length ? 'fail' : notes.length ? 'warn' : 'pass',
      value: problems.length ? 'stale' : lease ? (expired ? 'expired' : 'held') : 'no lease',
      threshold,
      detail: problems.length
        ? `${capitalize(problems.join('; '))}: the coordinator has most likely died.`
        : notes.length
          ? `${capitalize(notes.join('; '))}; it blocks nothing but should be cleared.`
          : lease
            ? `Lease held by ${lease.holder} until ${lease.expiresAt.toISOString()}.`
            : `No coordinator lease for ${data.date}.`,
      next: problems.length
        ? runbookRun(batch.status === 'running' ? 'coordinator-crash' : 'stale-lock', data)
        : notes.length
          ? `pipectl coordinator unlock --date ${data.date}`
          : null,
      measures: {
        lease: lease !== null,
        expired: lease ? expired : null,
        batch_status: batch.status,
      },
    };
  },
};

const CHANGE_PHASES = ['phase_2', 'phase_3', 'phase_4'];

/**
 * The largest entity count among the first successful runs of player-keyed processors, when
 * it is below `min`; null otherwise. The day's first pass should see the whole slate (~450
 * players); when even the best of those first runs saw fewer than `min`, change detection or
 * the inputs cut the slate. One processor alone processing nothing is empty-output's finding,
 * and team-keyed processors (about 30 entities) are left out.
 */
function firstRunsBelow(data: HealthData, ok: RunRecord[], min: number): number | null {
  const playerKeyed = new Set(
    allProcessors(data.config)
      .filter((p) => p.entityColumn === 'player_lookup')
      .map((p) => p.name),
  );
  const first = new Map<string, RunRecord>();
  for (const run of ok) if (!first.has(run.processor)) first.set(run.processor, run);
  const counts = [...first.values()]
    .filter((r) => playerKeyed.has(r.processor) && r.entitiesProcessed !== null)
    .map((r) => r.entitiesProcessed!);
  if (counts.length === 0) return null;
  const best = Math.max(...counts);
  return best < min ? best : null;
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) out.set(key(item), [...(out.get(key(item)) ?? []), item]);
  return out;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.slice(0, 160);
}
