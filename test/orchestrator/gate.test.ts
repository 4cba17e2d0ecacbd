import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import {
  CRASH_HOOK_ENV,
  expectedProcessors,
  readGate,
  recordReport,
  retrigger,
  type ProcessorReport,
} from '../../src/lib/completion.js';
import { addDays, type GameDate } from '../../src/lib/dates.js';
import { Refusal, UserError } from '../../src/lib/errors.js';
import { findStuckGates, forceComplete, inspectGate } from '../../src/lib/orchestrator.js';
import { buildPhaseTrigger, mergeEntities } from '../../src/lib/triggers.js';
import { DATE, openLocal, type LocalLib } from './helpers.js';

const REPORTER = join(import.meta.dirname, 'reporter.mjs');

const success = (processor: string, entities: string[] = []): ProcessorReport => ({
  processor,
  status: 'success',
  correlationId: 'corr-1',
  recordCount: 5,
  entitiesChanged: entities,
});

let open: LocalLib[] = [];
function local(...args: Parameters<typeof openLocal>): LocalLib {
  const lib = openLocal(...args);
  open.push(lib);
  return lib;
}
afterEach(async () => {
  await Promise.all(open.map((l) => l.backends.close()));
  open = [];
});

async function triggersOn(lib: LocalLib, topic: string, date: string) {
  const messages = await lib.backends.messages.list({ topic });
  return messages.filter((m) => m.data.game_date === date);
}

function reporter(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [REPORTER, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise<{
    code: number | null;
    signal: string | null;
    stdout: string;
    stderr: string;
  }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

describe('mergeEntities and buildPhaseTrigger', () => {
  it('merges lists into unique, sorted, non-empty ids and turns more than the cap into a full batch', () => {
    expect(mergeEntities([['b', 'a', null, ''], undefined, ['a', 'c', undefined]], 3)).toEqual({
      entities: ['a', 'b', 'c'],
      fullBatch: false,
    });
    expect(
      mergeEntities(
        [
          ['a', 'b'],
          ['c', 'd'],
        ],
        3,
      ),
    ).toEqual({ entities: [], fullBatch: true });
  });

  it('builds a trigger whose attributes repeat the date and correlation id with the idempotency key', () => {
    const { ctx } = local();
    const trigger = buildPhaseTrigger(ctx.config, {
      phase: 2,
      gameDate: DATE,
      correlationId: 'c-9',
      entities: ['x'],
      fullBatch: false,
      source: 'manual',
    });
    expect(trigger.topic).toBe('phase2-trigger');
    expect(trigger.idempotencyKey).toBe(`c-9:phase2-trigger:${DATE}`);
    expect(trigger.message.attributes).toEqual({
      game_date: DATE,
      correlation_id: 'c-9',
      idempotency_key: trigger.idempotencyKey,
    });
    expect(trigger.message.data).toMatchObject({ phase: 2, entities_changed: ['x'] });
  });
});

describe('the gate transaction on the embedded backend', () => {
  it('triggers phase 3 exactly once per round when 21 processors report at the same moment, 20 rounds', async () => {
    const lib = local();
    const names = expectedProcessors(lib.ctx.config, 2);
    expect(names).toHaveLength(21);

    for (let round = 0; round < 20; round++) {
      const date = addDays(DATE, round);
      const outcomes = await Promise.all(
        names.map((p, i) => recordReport(lib.ctx, 2, date, success(p, [`player-${i}`]))),
      );
      const transitions = outcomes.filter((o) => o.triggered);
      expect(transitions, `round ${round}`).toHaveLength(1);
      expect(transitions[0]!.trigger).toMatchObject({ published: true, fullBatch: false });
      expect(await triggersOn(lib, 'phase3-trigger', date), `round ${round}`).toHaveLength(1);
      const gate = await readGate(lib.ctx, 2, date);
      expect(gate).toMatchObject({ triggered: true, missing: [], unpublished: false });
      expect(gate.triggerMessageId).toBe(transitions[0]!.trigger!.messageId);
    }
    const all = await lib.backends.messages.list({ topic: 'phase3-trigger' });
    expect(all).toHaveLength(20);
    expect(new Set(all.map((m) => m.attributes.idempotency_key)).size).toBe(20);
  }, 180_000);

  it('changes nothing when a processor reports twice', async () => {
    const lib = local();
    await recordReport(lib.ctx, 3, DATE, success('PlayerGameSummaryProcessor', ['a']));
    const before = await lib.backends.documents.get(`phase3_completion/${DATE}`);

    const again = await recordReport(
      lib.ctx,
      3,
      DATE,
      success('PlayerGameSummaryProcessor', ['z']),
    );
    const after = await lib.backends.documents.get(`phase3_completion/${DATE}`);
    expect(again).toMatchObject({ duplicate: true, reported: 1, expected: 5, triggered: false });
    expect(after.data).toEqual(before.data);
    expect(after.updateTime).toEqual(before.updateTime);
  });

  it('refuses a processor the gate does not expect with exit 2, listing the valid names', async () => {
    const lib = local();
    const error = await recordReport(lib.ctx, 3, DATE, success('NoSuchProcessor')).catch((e) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).exitCode).toBe(2);
    expect((error as UserError).hint).toContain('PlayerGameSummaryProcessor');
    expect((await lib.backends.documents.get(`phase3_completion/${DATE}`)).exists).toBe(false);
  });

  it('records a failed report without counting it, and completes when the retry succeeds', async () => {
    const lib = local();
    const names = expectedProcessors(lib.ctx.config, 3);
    for (const p of names.slice(1)) await recordReport(lib.ctx, 3, DATE, success(p));
    const failed = await recordReport(lib.ctx, 3, DATE, {
      ...success(names[0]!),
      status: 'failed',
    });
    expect(failed).toMatchObject({ duplicate: false, reported: 4, triggered: false });
    let gate = await readGate(lib.ctx, 3, DATE);
    expect(gate.triggered).toBe(false);
    expect(gate.missing).toEqual([names[0]]);
    expect(gate.reported.find((r) => r.processor === names[0])?.status).toBe('failed');
    expect(await triggersOn(lib, 'phase4-trigger', DATE)).toHaveLength(0);

    const retried = await recordReport(lib.ctx, 3, DATE, success(names[0]!));
    expect(retried).toMatchObject({ duplicate: false, reported: 5, triggered: true });
    gate = await readGate(lib.ctx, 3, DATE);
    expect(gate.triggered).toBe(true);
    expect(await triggersOn(lib, 'phase4-trigger', DATE)).toHaveLength(1);
  });

  it('turns more changed entities than the cap into a full-batch trigger', async () => {
    const lib = local();
    const names = expectedProcessors(lib.ctx.config, 3);
    const outcomes = await Promise.all(
      names.map((p, i) =>
        recordReport(
          lib.ctx,
          3,
          DATE,
          success(
            p,
            Array.from({ length: 30 }, (_, j) => `player-${i * 30 + j}`),
          ),
        ),
      ),
    );
    const trigger = outcomes.find((o) => o.triggered)!.trigger!;
    expect(trigger).toMatchObject({ fullBatch: true, entities: [] });
    const [message] = await triggersOn(lib, 'phase4-trigger', DATE);
    expect(message!.data).toMatchObject({ is_full_batch: true, entities_changed: [] });
  });

  it('triggers once when force-complete races late real reports, 10 rounds', async () => {
    const lib = local();
    const names = expectedProcessors(lib.ctx.config, 3);
    for (let round = 0; round < 10; round++) {
      const date = addDays(DATE, round);
      await recordReport(lib.ctx, 3, date, success(names[0]!));
      await recordReport(lib.ctx, 3, date, success(names[1]!));
      const late = names.slice(2);
      const results = await Promise.all([
        forceComplete(lib.ctx, 3, date, late, { reason: 'drill', publish: true }),
        forceComplete(lib.ctx, 3, date, late, { reason: 'second operator', publish: true }),
        ...late.map((p) => recordReport(lib.ctx, 3, date, success(p))),
      ]);
      const triggered = results.filter((r) => r.triggered).length;
      expect(triggered, `round ${round}`).toBe(1);
      expect(await triggersOn(lib, 'phase4-trigger', date), `round ${round}`).toHaveLength(1);
      const gate = await readGate(lib.ctx, 3, date);
      expect(gate.missing).toEqual([]);
    }
  }, 60_000);

  it('marks a gate complete without publishing only when the --no-trigger force completes it', async () => {
    const lib = local();
    const names = expectedProcessors(lib.ctx.config, 3);
    const forced = await forceComplete(lib.ctx, 3, DATE, names.slice(1), {
      reason: 'done by hand',
      publish: false,
    });
    expect(forced.triggered).toBe(false);
    // The gate was not complete, so the real last report triggers as usual.
    const last = await recordReport(lib.ctx, 3, DATE, success(names[0]!));
    expect(last.triggered).toBe(true);
    expect(await triggersOn(lib, 'phase4-trigger', DATE)).toHaveLength(1);

    const forcedAll = await forceComplete(lib.ctx, 4, DATE, expectedProcessors(lib.ctx.config, 4), {
      reason: 'done by hand',
      publish: false,
    });
    expect(forcedAll.triggered).toBe(true);
    const gate = await readGate(lib.ctx, 4, DATE);
    expect(gate).toMatchObject({ triggered: true, unpublished: false, triggerSuppressed: true });
    expect(await triggersOn(lib, 'phase5-trigger', DATE)).toHaveLength(0);
    await expect(
      recordReport(lib.ctx, 4, DATE, success(expectedProcessors(lib.ctx.config, 4)[0]!)),
    ).resolves.toMatchObject({ duplicate: true, triggered: false });
  });
});

describe('several OS processes on one sandbox file', () => {
  it('triggers exactly once per date when 3 processes each report 7 of 21 processors, 20 dates', async () => {
    const lib = local();
    const names = expectedProcessors(lib.ctx.config, 2);
    const dates = Array.from({ length: 20 }, (_, i) => addDays(DATE, i));
    await lib.backends.close();

    const results = await Promise.all(
      [0, 1, 2].map((k) =>
        reporter([lib.sandbox, '2', dates.join(','), names.slice(k * 7, k * 7 + 7).join(',')]),
      ),
    );
    for (const r of results) expect(r.code, r.stderr).toBe(0);

    const perDate = new Map<string, number>();
    for (const r of results) {
      for (const line of r.stdout.trim().split('\n')) {
        const { date, triggered } = JSON.parse(line) as { date: string; triggered: number };
        perDate.set(date, (perDate.get(date) ?? 0) + triggered);
      }
    }
    expect([...perDate.values()]).toEqual(dates.map(() => 1));
    const messages = await lib.backends.messages.list({ topic: 'phase3-trigger' });
    expect(messages.map((m) => m.data.game_date).sort()).toEqual([...dates].sort());
  }, 180_000);
});

describe('a crash between the trigger commit and the publish', () => {
  it('leaves a marked, unpublished gate that show and stuck find and retrigger finishes once', async () => {
    const lib = local();
    const names = expectedProcessors(lib.ctx.config, 3);
    const date = DATE as GameDate;
    for (const p of names.slice(1)) await recordReport(lib.ctx, 3, date, success(p));
    await lib.backends.close();

    const crashed = await reporter([lib.sandbox, '3', date, names[0]!], { [CRASH_HOOK_ENV]: '1' });
    expect(crashed.signal).toBe('SIGKILL');

    const inspected = await inspectGate(lib.ctx, 3, date);
    expect(inspected.gate).toMatchObject({
      triggered: true,
      unpublished: true,
      triggerMessageId: null,
      missing: [],
    });
    expect(inspected.problems.map((p) => p.kind)).toContain('unpublished_trigger');
    expect(await triggersOn(lib, 'phase4-trigger', date)).toHaveLength(0);
    const key = inspected.gate.triggerIdempotencyKey;
    expect(key).toBe(`corr-1:phase4-trigger:${date}`);

    const result = await retrigger(lib.ctx, 3, date);
    expect(result).toMatchObject({ published: true, idempotencyKey: key });
    const messages = await triggersOn(lib, 'phase4-trigger', date);
    expect(messages).toHaveLength(1);
    expect(messages[0]!.attributes.idempotency_key).toBe(key);
    expect((await readGate(lib.ctx, 3, date)).triggerMessageId).toBe(messages[0]!.messageId);

    await expect(retrigger(lib.ctx, 3, date)).rejects.toBeInstanceOf(Refusal);
    expect(await triggersOn(lib, 'phase4-trigger', date)).toHaveLength(1);
  }, 60_000);

  it('is listed by findStuckGates as an unpublished trigger, by the backend clock', async () => {
    const lib = local();
    const now = await lib.backends.documents.serverTime();
    const { todayIn } = await import('../../src/lib/dates.js');
    const today = todayIn(lib.ctx.config.timezone, now);
    const old = new Date(now.getTime() - 3 * 3_600_000);
    const names = expectedProcessors(lib.ctx.config, 3);
    const report = {
      status: 'success',
      correlation_id: 'c',
      record_count: 1,
      entities_changed: [],
      completed_at: old,
    };
    // The state a crashed orchestrator leaves behind, written directly.
    await lib.backends.documents.set(`phase3_completion/${today}`, {
      ...Object.fromEntries(names.map((n) => [n, report])),
      _triggered: true,
      _triggered_at: old,
      _trigger_message_id: null,
      _correlation_id: 'c',
      _trigger_topic: 'phase4-trigger',
      _trigger_idempotency_key: `c:phase4-trigger:${today}`,
      _entities: [],
      _full_batch: false,
    });
    // And a gate waiting on two processors for three hours.
    await lib.backends.documents.set(`phase2_completion/${today}`, {
      NbacGamebookProcessor: report,
      _triggered: false,
      _correlation_id: 'c',
    });

    const found = await findStuckGates(lib.ctx, { olderThanMs: 2 * 3_600_000, days: 3 });
    expect(found.stuck.map((s) => [s.phase, s.kind, s.gameDate])).toEqual([
      [2, 'waiting', today],
      [3, 'unpublished', today],
    ]);
    expect(found.stuck[0]!.missing).toHaveLength(20);
    const later = await findStuckGates(lib.ctx, { olderThanMs: 4 * 3_600_000, days: 3 });
    expect(later.stuck.map((s) => s.kind)).toEqual(['unpublished']);
  });
});
