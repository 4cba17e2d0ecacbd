/**
 * `pipectl orchestrator ...` through the built CLI, without a terminal, on a sandbox file:
 * exit codes, --json shapes, --dry-run and confirmation, and the state left behind.
 */

import { afterEach, describe, expect, it } from 'vitest';

import { openLocalBackends, type LocalBackends } from '../../src/lib/backends/local/index.js';
import { listAudit } from '../../src/lib/audit.js';
import { loadConfig } from '../../src/lib/config.js';
import { expectedProcessors, recordReport } from '../../src/lib/completion.js';
import { todayIn, type GameDate } from '../../src/lib/dates.js';
import { RUN_HISTORY_COLUMNS } from '../../src/lib/schema.js';
import { runCli, tempSandbox } from '../helpers/cli.js';
import { DATE } from './helpers.js';

const config = loadConfig({ env: {} });
const PHASE3 = expectedProcessors(config, 3);
const GATE3 = `phase3_completion/${DATE}`;

let sandbox = '';
let opened: LocalBackends | undefined;

function cli(args: string[]) {
  return runCli(['orchestrator', ...args], {
    env: { PIPECTL_SANDBOX: sandbox, PIPECTL_ACTOR: 'oncall@test' },
  });
}

/** Opens the sandbox for set-up or checks; closed again before the CLI needs the file. */
async function withSandbox<T>(fn: (b: LocalBackends) => Promise<T>): Promise<T> {
  opened = openLocalBackends({ path: sandbox });
  try {
    return await fn(opened);
  } finally {
    await opened.close();
    opened = undefined;
  }
}

async function report(processors: string[], date: GameDate = DATE): Promise<void> {
  await withSandbox(async (backends) => {
    const ctx = { config, backends, actor: 'test' };
    for (const processor of processors) {
      await recordReport(ctx, 3, date, {
        processor,
        status: 'success',
        correlationId: 'corr-cli',
        recordCount: 3,
        entitiesChanged: [`${processor}-e`],
      });
    }
  });
}

afterEach(async () => {
  await opened?.close();
});

function fresh(): void {
  sandbox = tempSandbox('pipectl-orch-');
}

describe('orchestrator show', () => {
  it('prints the gate as JSON: expected, reported, missing, trigger state and each processor', async () => {
    fresh();
    await report(PHASE3.slice(0, 2));
    const result = await cli(['show', '--phase', '3', '--date', DATE, '--json']);
    expect(result.code).toBe(0);
    const body = result.json<Record<string, unknown>>();
    expect(body).toMatchObject({
      phase: 3,
      game_date: DATE,
      exists: true,
      expected: PHASE3,
      reported: PHASE3.slice(0, 2),
      missing: PHASE3.slice(2),
      triggered: false,
      trigger_message_id: null,
      correlation_id: 'corr-cli',
    });
    const processors = body.processors as { processor: string; reported: boolean }[];
    expect(processors.map((p) => [p.processor, p.reported])).toEqual(
      PHASE3.map((p, i) => [p, i < 2]),
    );
  });

  it('finds a run that succeeded but never reported, and a report whose latest run failed', async () => {
    fresh();
    await report(PHASE3.slice(0, 3));
    await withSandbox(async (backends) => {
      const table = config.tables.runHistory;
      await backends.warehouse.ensureTable(table, RUN_HISTORY_COLUMNS);
      const run = (processor: string, status: string, minute: number) => ({
        processor_name: processor,
        phase: 'phase_3',
        data_date: DATE,
        run_id: `${processor}-${minute}`,
        correlation_id: 'corr-cli',
        status,
        started_at: new Date(Date.UTC(2026, 0, 15, 12, minute)),
        processed_at: new Date(Date.UTC(2026, 0, 15, 12, minute + 1)),
        records_processed: 1,
        entities_processed: 1,
        entities_changed: 1,
        is_full_batch: false,
        error_message: status === 'failed' ? 'upstream timeout' : null,
        trigger_message_id: null,
      });
      await backends.warehouse.insert(
        table,
        [
          run(PHASE3[0]!, 'success', 0),
          run(PHASE3[1]!, 'success', 0),
          run(PHASE3[1]!, 'failed', 10), // reported, then a later run failed
          run(PHASE3[3]!, 'success', 5), // succeeded, report lost
        ],
        RUN_HISTORY_COLUMNS,
      );
    });

    const result = await cli(['show', '--phase', '3', '--date', DATE, '--json']);
    expect(result.code).toBe(0);
    const problems = result.json<{ problems: { kind: string; processor?: string }[] }>().problems;
    expect(problems.map((p) => [p.kind, p.processor])).toEqual([
      ['failed_after_report', PHASE3[1]],
      ['lost_report', PHASE3[3]],
    ]);
  });

  it('refuses an unknown phase with exit 2 and names the gated phases', async () => {
    fresh();
    const result = await cli(['show', '--phase', '5', '--json']);
    expect(result.code).toBe(2);
    expect(result.json<{ error: { hint: string } }>().error.hint).toContain('2, 3 or 4');
  });
});

describe('orchestrator force-complete', () => {
  it('refuses an unknown processor with exit 2, lists the valid ones, and writes nothing', async () => {
    fresh();
    const result = await cli([
      'force-complete',
      '--phase',
      '3',
      '--date',
      DATE,
      '--processor',
      'PlayerGameSumaryProcessor',
      '--reason',
      'typo',
      '--yes',
      '--json',
    ]);
    expect(result.code).toBe(2);
    expect(result.json<{ error: { hint: string } }>().error.hint).toContain(
      'PlayerGameSummaryProcessor',
    );
    await withSandbox(async (b) => expect((await b.documents.get(GATE3)).exists).toBe(false));
  });

  it('needs --reason (exit 2) and --yes without a terminal (exit 3), writing nothing', async () => {
    fresh();
    const base = ['force-complete', '--phase', '3', '--date', DATE, '--missing'];
    expect((await cli([...base, '--yes'])).code).toBe(2);
    const noYes = await cli([...base, '--reason', 'INC-1']);
    expect(noYes.code).toBe(3);
    expect(noYes.stderr).toContain('--yes');
    await withSandbox(async (b) => {
      expect((await b.documents.get(GATE3)).exists).toBe(false);
      expect(await listAudit(b.documents, config.collections.opsAudit, { limit: 5 })).toEqual([]);
    });
  });

  it('shows the plan and writes nothing on --dry-run', async () => {
    fresh();
    await report(PHASE3.slice(0, 4));
    const result = await cli([
      ...['force-complete', '--phase', '3', '--date', DATE, '--missing'],
      ...['--reason', 'INC-1', '--dry-run', '--json'],
    ]);
    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({
      dry_run: true,
      command: 'orchestrator force-complete',
      plan: [{ processor: PHASE3[4], action: 'record forced success' }],
    });
    await withSandbox(async (b) => {
      const gate = (await b.documents.get(GATE3)).data!;
      expect(gate[PHASE3[4]!]).toBeUndefined();
      expect(gate._triggered).toBe(false);
      expect(await b.messages.list({ topic: 'phase4-trigger' })).toEqual([]);
      expect(await listAudit(b.documents, config.collections.opsAudit, { limit: 5 })).toEqual([]);
    });
  });

  it('completes the gate, triggers phase 4 once, audits it, and forces nothing when run again', async () => {
    fresh();
    await report(PHASE3.slice(0, 3));
    const args = [
      ...['force-complete', '--phase', '3', '--date', DATE, '--missing'],
      ...['--reason', 'INC-7 scraper down', '--yes', '--json'],
    ];
    const first = await cli(args);
    expect(first.code, first.stderr).toBe(0);
    expect(first.json()).toMatchObject({
      changed: true,
      forced: PHASE3.slice(3),
      triggered: true,
      trigger: { topic: 'phase4-trigger', published: true, full_batch: true },
    });

    const second = await cli(args);
    expect(second.code).toBe(0);
    expect(second.json()).toMatchObject({ changed: false, forced: [], triggered: true });

    await withSandbox(async (b) => {
      expect(await b.messages.list({ topic: 'phase4-trigger' })).toHaveLength(1);
      const gate = (await b.documents.get(GATE3)).data!;
      expect(gate[PHASE3[4]!]).toMatchObject({
        forced: true,
        forced_by: 'oncall@test',
        reason: 'INC-7 scraper down',
      });
      const audit = await listAudit(b.documents, config.collections.opsAudit, { limit: 5 });
      expect(audit.map((a) => a.command)).toEqual(['orchestrator force-complete']);
    });
  });
});

describe('orchestrator stuck', () => {
  it('exits 1 and lists a gate waiting longer than --older-than, with its missing processors', async () => {
    fresh();
    const today = todayIn(config.timezone);
    await report(PHASE3.slice(0, 4), today);

    const none = await cli(['stuck', '--older-than', '2h', '--json']);
    expect(none.code).toBe(0);
    expect(none.json<{ stuck: unknown[] }>().stuck).toEqual([]);

    const found = await cli(['stuck', '--older-than', '0s', '--json']);
    expect(found.code).toBe(1);
    expect(found.json<{ stuck: unknown[] }>().stuck).toMatchObject([
      { phase: 3, game_date: today, kind: 'waiting', reported: 4, missing: [PHASE3[4]] },
    ]);
  });

  it('refuses a malformed --older-than with exit 2', async () => {
    fresh();
    expect((await cli(['stuck', '--older-than', 'two hours'])).code).toBe(2);
  });
});

describe('orchestrator retrigger and reset', () => {
  async function markedUnpublished(): Promise<void> {
    await withSandbox(async (b) => {
      const entry = {
        status: 'success',
        correlation_id: 'corr-x',
        record_count: 1,
        entities_changed: ['a'],
        completed_at: new Date(),
      };
      await b.documents.set(GATE3, {
        ...Object.fromEntries(PHASE3.map((p) => [p, entry])),
        _triggered: true,
        _triggered_at: new Date(),
        _trigger_message_id: null,
        _correlation_id: 'corr-x',
        _trigger_topic: 'phase4-trigger',
        _trigger_idempotency_key: `corr-x:phase4-trigger:${DATE}`,
        _entities: ['a'],
        _full_batch: false,
      });
    });
  }

  it('publishes a marked trigger with its stored key, then refuses with exit 3 once published', async () => {
    fresh();
    await markedUnpublished();
    const shown = await cli(['show', '--phase', '3', '--date', DATE, '--json']);
    expect(shown.json()).toMatchObject({ triggered: true, unpublished: true });

    const dry = await cli(['retrigger', '--phase', '3', '--date', DATE, '--dry-run', '--json']);
    expect(dry.code).toBe(0);
    await withSandbox(async (b) =>
      expect(await b.messages.list({ topic: 'phase4-trigger' })).toEqual([]),
    );

    const first = await cli(['retrigger', '--phase', '3', '--date', DATE, '--yes', '--json']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.json()).toMatchObject({
      published: true,
      idempotency_key: `corr-x:phase4-trigger:${DATE}`,
    });

    const again = await cli(['retrigger', '--phase', '3', '--date', DATE, '--yes', '--json']);
    expect(again.code).toBe(3);
    await withSandbox(async (b) => {
      const messages = await b.messages.list({ topic: 'phase4-trigger' });
      expect(messages).toHaveLength(1);
      expect(messages[0]!.attributes.idempotency_key).toBe(`corr-x:phase4-trigger:${DATE}`);
      expect(messages[0]!.data).toMatchObject({ entities_changed: ['a'], source: 'retrigger' });
    });
  });

  it('refuses to retrigger a gate that is not marked (exit 3)', async () => {
    fresh();
    await report(PHASE3.slice(0, 1));
    expect((await cli(['retrigger', '--phase', '3', '--date', DATE, '--yes'])).code).toBe(3);
  });

  it('keeps a copy of the gate in the audit record, deletes it, and reruns the phase', async () => {
    fresh();
    await report(PHASE3.slice(0, 2));

    const dry = await cli(['reset', '--phase', '3', '--date', DATE, '--rerun', '--dry-run']);
    expect(dry.code).toBe(0);
    await withSandbox(async (b) => expect((await b.documents.get(GATE3)).exists).toBe(true));

    const result = await cli([
      'reset',
      '--phase',
      '3',
      '--date',
      DATE,
      '--rerun',
      '--yes',
      '--json',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.json()).toMatchObject({
      deleted: true,
      rerun: { topic: 'phase3-trigger', published: true },
    });
    await withSandbox(async (b) => {
      expect((await b.documents.get(GATE3)).exists).toBe(false);
      const [message] = await b.messages.list({ topic: 'phase3-trigger' });
      expect(message!.data).toMatchObject({ phase: 3, is_full_batch: true, source: 'manual' });
      expect(String(message!.data.correlation_id)).toMatch(/^manual-/);
      const [audit] = await listAudit(b.documents, config.collections.opsAudit, { limit: 1 });
      const copy = (audit!.details as { gate: Record<string, unknown> }).gate;
      expect(Object.keys(copy)).toEqual(expect.arrayContaining(PHASE3.slice(0, 2)));
    });

    const again = await cli(['reset', '--phase', '3', '--date', DATE, '--yes', '--json']);
    expect(again.code).toBe(0);
    expect(again.json()).toMatchObject({ deleted: false });
  });
});
