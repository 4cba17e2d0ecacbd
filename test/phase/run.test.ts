import { describe, expect, it } from 'vitest';

import { ENDPOINT_TOPIC } from '../../src/lib/backends/local/index.js';
import { startBatch } from '../../src/lib/coordinator/index.js';
import { DATE, daysFromToday, sandbox, writePhaseOutput, writeRunHistory } from './fixtures.js';

const HOUR = 3_600_000;

async function messages(sb: ReturnType<typeof sandbox>, topic?: string) {
  return sb.with((ctx) => ctx.backends.messages.list(topic ? { topic } : {}));
}

async function audits(sb: ReturnType<typeof sandbox>) {
  return sb.with(async (ctx) =>
    (await ctx.backends.documents.list(ctx.config.collections.opsAudit)).map((d) => d.data!),
  );
}

describe('phase run guards', { timeout: 90_000 }, () => {
  it('refuses phase 3 while one of its processors is still running for the date, and --force --reason sends it', async () => {
    const sb = sandbox();
    await sb.with(async (ctx) => {
      await writePhaseOutput(ctx, 2, DATE);
      await writeRunHistory(ctx, [
        { processor: 'PlayerGameSummaryProcessor', phase: 3, gameDate: DATE, status: 'running' },
      ]);
    });

    const refused = await sb.run(['phase', 'run', '3', '--date', DATE, '--yes']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/Phase 3 is already running for 2026-01-15/);
    expect(refused.stderr).toContain('PlayerGameSummaryProcessor');
    expect(await messages(sb, 'phase3-trigger')).toHaveLength(0);

    const noReason = await sb.run(['phase', 'run', '3', '--date', DATE, '--force', '--yes']);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toContain('needs --reason');

    const forced = await sb.run([
      'phase',
      'run',
      '3',
      '--date',
      DATE,
      '--force',
      '--reason',
      'run row is dead, INC-1',
      '--yes',
      '--json',
    ]);
    expect(forced.code).toBe(0);
    const body = forced.json<{
      correlation_id: string;
      guards: { guard: string; state: string }[];
    }>();
    expect(body.correlation_id).toMatch(/^manual-[0-9a-f-]{36}$/);
    expect(body.guards).toContainEqual(
      expect.objectContaining({ guard: 'not-running', state: 'overridden' }),
    );
    expect(await messages(sb, 'phase3-trigger')).toHaveLength(1);
    const [audit] = await audits(sb);
    expect(audit).toMatchObject({
      command: 'phase run',
      reason: 'run row is dead, INC-1',
      outcome: 'success',
    });
  });

  it('does not count a run that wrote its end row, or a running row older than two hours', async () => {
    const sb = sandbox();
    await sb.with(async (ctx) => {
      await writePhaseOutput(ctx, 2, DATE);
      await writeRunHistory(ctx, [
        {
          processor: 'PlayerGameSummaryProcessor',
          phase: 3,
          gameDate: DATE,
          status: 'running',
          runId: 'r1',
        },
        {
          processor: 'PlayerGameSummaryProcessor',
          phase: 3,
          gameDate: DATE,
          status: 'success',
          runId: 'r1',
        },
        {
          processor: 'TeamOffenseGameSummaryProcessor',
          phase: 3,
          gameDate: DATE,
          status: 'running',
          startedAt: new Date(Date.now() - 3 * HOUR),
        },
        // Running, but for another date and another phase: neither blocks.
        {
          processor: 'PlayerGameSummaryProcessor',
          phase: 3,
          gameDate: '2026-01-14' as typeof DATE,
          status: 'running',
        },
        { processor: 'PlayerDailyCacheProcessor', phase: 4, gameDate: DATE, status: 'running' },
      ]);
    });
    const result = await sb.run(['phase', 'run', '3', '--date', DATE, '--yes']);
    expect(result.stderr).not.toContain('error');
    expect(result.code).toBe(0);
  });

  it('refuses phase 5 while a coordinator batch is running (the 06:00 backup start during a slow run)', async () => {
    const sb = sandbox();
    await sb.with(async (ctx) => {
      await writePhaseOutput(ctx, 4, DATE);
      await startBatch(ctx, DATE, {
        players: ['a', 'b', 'c'],
        correlationId: 'c1',
        instance: 'coordinator-1',
      });
    });

    const refused = await sb.run(['phase', 'run', '5', '--date', DATE, '--yes']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(
      /A Phase 5 batch is already running for 2026-01-15 \(0\/3 predictions/,
    );
    expect(await messages(sb, 'phase5-trigger')).toHaveLength(0);

    const forced = await sb.run([
      'phase',
      'run',
      '5',
      '--date',
      DATE,
      '--force',
      '--reason',
      'drill',
      '--yes',
    ]);
    expect(forced.code).toBe(0);
    expect(await messages(sb, 'phase5-trigger')).toHaveLength(1);
  });

  it('refuses when an upstream table is empty or stale and names each one; --skip-dependencies or --force with --reason passes', async () => {
    const sb = sandbox();
    await sb.with(async (ctx) => {
      await writePhaseOutput(ctx, 3, DATE, {
        skip: ['UpcomingTeamGameContextProcessor', 'TeamDefenseGameSummaryProcessor'],
      });
      // Written ten days before the game date: rows for the date, but from another run.
      await writePhaseOutput(ctx, 3, DATE, {
        processedAt: new Date(Date.parse(`${DATE}T12:00:00Z`) - 10 * 24 * HOUR),
        skip: ctx.config.processors.phase3
          .map((p) => p.name)
          .filter((n) => n !== 'TeamDefenseGameSummaryProcessor'),
      });
    });

    const refused = await sb.run(['phase', 'run', '4', '--date', DATE, '--yes']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/Upstream data for phase 4 on 2026-01-15 is not ready/);
    expect(refused.stderr).toMatch(
      /upcoming_team_game_context \(UpcomingTeamGameContextProcessor\) has no rows/,
    );
    expect(refused.stderr).toMatch(
      /team_defense_game_summary \(TeamDefenseGameSummaryProcessor\) was last written 2026-01-05/,
    );
    expect(await messages(sb, 'phase4-trigger')).toHaveLength(0);

    const skipNoReason = await sb.run([
      'phase',
      'run',
      '4',
      '--date',
      DATE,
      '--skip-dependencies',
      '--yes',
    ]);
    expect(skipNoReason.code).toBe(2);

    const skipped = await sb.run([
      'phase',
      'run',
      '4',
      '--date',
      DATE,
      '--skip-dependencies',
      '--reason',
      'known late table',
      '--yes',
    ]);
    expect(skipped.code).toBe(0);
    const forced = await sb.run([
      'phase',
      'run',
      '4',
      '--date',
      DATE,
      '--force',
      '--reason',
      'drill',
      '--yes',
    ]);
    expect(forced.code).toBe(0);
    expect(await messages(sb, 'phase4-trigger')).toHaveLength(2);
  });

  it('passes the upstream guard when every phase 2 table has fresh rows', async () => {
    const sb = sandbox();
    await sb.with((ctx) => writePhaseOutput(ctx, 2, DATE));
    const result = await sb.run(['phase', 'run', '3', '--date', DATE, '--yes', '--json']);
    expect(result.code).toBe(0);
    expect(
      result.json<{ guards: { guard: string; state: string; message: string }[] }>().guards,
    ).toContainEqual({
      guard: 'upstream',
      state: 'passed',
      message: 'Upstream data for phase 3 on 2026-01-15: 21 tables with fresh rows',
    });
  });

  it('rejects a date two days ahead and 2025-02-30 with exit 2, before writing anything', async () => {
    const sb = sandbox();
    const ahead = await sb.run(['phase', 'run', '2', '--date', daysFromToday(2), '--yes']);
    expect(ahead.code).toBe(2);
    expect(ahead.stderr).toContain('more than one day ahead');
    const impossible = await sb.run(['phase', 'run', '2', '--date', '2025-02-30', '--yes']);
    expect(impossible.code).toBe(2);
    expect(impossible.stderr).toContain('2025-02-30 is not a calendar date');
    const badPhase = await sb.run(['phase', 'run', '6', '--date', DATE, '--yes']);
    expect(badPhase.code).toBe(2);
    expect(await messages(sb)).toHaveLength(0);
    expect(await audits(sb)).toHaveLength(0);
  });

  it('accepts tomorrow (one day ahead)', async () => {
    const sb = sandbox();
    const result = await sb.run(['phase', 'run', '2', '--date', daysFromToday(1), '--yes']);
    expect(result.code).toBe(0);
  });
});

describe('phase run messages', { timeout: 90_000 }, () => {
  it('carries game_date, correlation_id and the idempotency key in the message and its attributes, with entities merged once', async () => {
    const sb = sandbox();
    await sb.with((ctx) => writePhaseOutput(ctx, 3, DATE));
    const result = await sb.run([
      'phase',
      'run',
      '4',
      '--date',
      DATE,
      '--correlation-id',
      'corr-42',
      '--entities',
      'stephcurry, lebronjames,stephcurry',
      '--yes',
    ]);
    expect(result.code).toBe(0);

    const [message] = await messages(sb, 'phase4-trigger');
    expect(message!.attributes).toEqual({
      game_date: DATE,
      correlation_id: 'corr-42',
      idempotency_key: 'corr-42:phase4-trigger:2026-01-15',
    });
    expect(message!.data).toMatchObject({
      game_date: DATE,
      correlation_id: 'corr-42',
      phase: 4,
      entities_changed: ['lebronjames', 'stephcurry'],
      is_full_batch: false,
      source: 'pipectl',
    });
  });

  it('turns an entity list longer than entityCap into a full batch, and --force-full-batch into one too', async () => {
    const sb = sandbox({ entityCap: 2 });
    const capped = await sb.run([
      'phase',
      'run',
      '2',
      '--date',
      DATE,
      '--entities',
      'a,b,c',
      '--yes',
    ]);
    expect(capped.code).toBe(0);
    const forced = await sb.run([
      'phase',
      'run',
      '2',
      '--date',
      DATE,
      '--entities',
      'a',
      '--force-full-batch',
      '--force',
      '--reason',
      'second trigger of the test',
      '--yes',
    ]);
    expect(forced.code).toBe(0);
    const sent = await messages(sb, 'phase2-trigger');
    expect(sent.map((m) => [m.data.is_full_batch, m.data.entities_changed])).toEqual([
      [true, []],
      [true, []],
    ]);
  });

  it('rejects a malformed correlation id or entity id with exit 2', async () => {
    const sb = sandbox();
    expect(
      (await sb.run(['phase', 'run', '2', '--date', DATE, '--correlation-id', 'a b', '--yes']))
        .code,
    ).toBe(2);
    expect(
      (await sb.run(['phase', 'run', '2', '--date', DATE, '--entities', "x';drop", '--yes'])).code,
    ).toBe(2);
    expect(await messages(sb)).toHaveLength(0);
  });

  it('prints the plan and sends nothing with --dry-run', async () => {
    const sb = sandbox();
    const result = await sb.run(['phase', 'run', '2', '--date', DATE, '--dry-run', '--json']);
    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({ dry_run: true, command: 'phase run' });
    expect(await messages(sb)).toHaveLength(0);
  });

  it('refuses without a terminal and without --yes (exit 3)', async () => {
    const sb = sandbox();
    const result = await sb.run(['phase', 'run', '2', '--date', DATE]);
    expect(result.code).toBe(3);
    expect(await messages(sb, 'phase2-trigger')).toHaveLength(0);
  });

  it('records the POST to /reprocess for the sandbox when the profile triggers over HTTP', async () => {
    const sb = sandbox({ profiles: { local: { triggerVia: 'http' } } });
    await sb.with((ctx) => writePhaseOutput(ctx, 2, DATE));
    const result = await sb.run([
      'phase',
      'run',
      '3',
      '--date',
      DATE,
      '--correlation-id',
      'c-http',
      '--yes',
      '--json',
    ]);
    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({
      via: 'http',
      target: 'http://phase3.sandbox/reprocess',
      status: 202,
    });
    const [request] = await messages(sb, ENDPOINT_TOPIC);
    expect(request!.data).toMatchObject({
      url: 'http://phase3.sandbox/reprocess',
      body: {
        game_date: DATE,
        correlation_id: 'c-http',
        idempotency_key: 'c-http:phase3-trigger:2026-01-15',
      },
    });
    expect(await messages(sb, 'phase3-trigger')).toHaveLength(0);
  });

  it('sends --bypass-orchestrator to the configured /trigger-direct URL, and refuses it for phase 2', async () => {
    const sb = sandbox({
      profiles: { local: { endpoints: { phase4: 'https://phase4.example.run.app/' } } },
    });
    await sb.with((ctx) => writePhaseOutput(ctx, 3, DATE));
    const noReason = await sb.run([
      'phase',
      'run',
      '4',
      '--date',
      DATE,
      '--bypass-orchestrator',
      '--yes',
    ]);
    expect(noReason.code).toBe(2);
    const sent = await sb.run([
      'phase',
      'run',
      '4',
      '--date',
      DATE,
      '--bypass-orchestrator',
      '--reason',
      'orchestrator down',
      '--yes',
    ]);
    expect(sent.code).toBe(0);
    const [request] = await messages(sb, ENDPOINT_TOPIC);
    expect(request!.data.url).toBe('https://phase4.example.run.app/trigger-direct');
    const phase2 = await sb.run([
      'phase',
      'run',
      '2',
      '--date',
      DATE,
      '--bypass-orchestrator',
      '--reason',
      'x',
      '--yes',
    ]);
    expect(phase2.code).toBe(2);
    expect(phase2.stderr).toContain('Phase 2 has no service endpoint');
  });

  it('exits 2 naming the config key when the profile triggers over HTTP and has no URL', async () => {
    const sb = sandbox({ profiles: { staging: { triggerVia: 'http' } } });
    const result = await sb.run([
      '--profile',
      'staging',
      'phase',
      'run',
      '5',
      '--date',
      DATE,
      '--yes',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('profiles.staging.endpoints.coordinator');
  });
});

describe('emergency paths', { timeout: 90_000 }, () => {
  it('emergency-start needs --reason, records the request for the sandbox, and audits it', async () => {
    const sb = sandbox();
    const noReason = await sb.run(['phase', 'emergency-start', '--date', DATE, '--yes']);
    expect(noReason.code).toBe(2);
    expect(await messages(sb)).toHaveLength(0);

    const result = await sb.run([
      'phase',
      'emergency-start',
      '--date',
      DATE,
      '--min-players',
      '250',
      '--reason',
      'orchestrators down, INC-7',
      '--yes',
      '--json',
    ]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('skips the pipeline');
    const [request] = await messages(sb, ENDPOINT_TOPIC);
    expect(request!.data).toMatchObject({
      url: 'http://coordinator.sandbox/emergency-start',
      body: {
        game_date: DATE,
        min_players: 250,
        skip_validation: true,
        reason: 'orchestrators down, INC-7',
      },
    });
    const body = request!.data.body as { correlation_id: string; idempotency_key: string };
    expect(body.idempotency_key).toBe(`${body.correlation_id}:emergency-start:${DATE}`);
    const [audit] = await audits(sb);
    expect(audit).toMatchObject({
      command: 'phase emergency-start',
      reason: 'orchestrators down, INC-7',
      outcome: 'success',
    });
  });

  it('emergency-start refuses while a batch is running for the date (exit 3)', async () => {
    const sb = sandbox();
    await sb.with((ctx) =>
      startBatch(ctx, DATE, { players: ['a'], correlationId: 'c', instance: 'i' }),
    );
    const result = await sb.run([
      'phase',
      'emergency-start',
      '--date',
      DATE,
      '--reason',
      'x',
      '--yes',
    ]);
    expect(result.code).toBe(3);
    expect(await messages(sb, ENDPOINT_TOPIC)).toHaveLength(0);
  });

  it('emergency-start and bypass exit 2 naming the endpoint key when the profile has no URL', async () => {
    const sb = sandbox();
    const start = await sb.run([
      '--profile',
      'staging',
      'phase',
      'emergency-start',
      '--date',
      DATE,
      '--reason',
      'x',
      '--yes',
    ]);
    expect(start.code).toBe(2);
    expect(start.stderr).toContain('profiles.staging.endpoints.coordinator');
    const bypass = await sb.run([
      '--profile',
      'prod',
      'phase',
      'bypass',
      '--phase',
      '4',
      '--date',
      DATE,
      '--reason',
      'x',
      '--yes',
    ]);
    expect(bypass.code).toBe(2);
    expect(bypass.stderr).toContain('profiles.prod.endpoints.phase4');
  });

  it('bypass sends /trigger-direct then /run-direct, and accepts only phase 4', async () => {
    const sb = sandbox();
    const result = await sb.run([
      'phase',
      'bypass',
      '--phase',
      '4',
      '--date',
      DATE,
      '--reason',
      'phase 3 gate stuck',
      '--yes',
    ]);
    expect(result.code).toBe(0);
    const sent = await messages(sb, ENDPOINT_TOPIC);
    expect(sent.map((m) => m.data.url)).toEqual([
      'http://phase4.sandbox/trigger-direct',
      'http://feature-store.sandbox/run-direct',
    ]);
    expect(sent.every((m) => (m.data.body as { game_date: string }).game_date === DATE)).toBe(true);

    const wrong = await sb.run([
      'phase',
      'bypass',
      '--phase',
      '3',
      '--date',
      DATE,
      '--reason',
      'x',
      '--yes',
    ]);
    expect(wrong.code).toBe(2);
  });
});

describe('the trigger claim', () => {
  it('lets exactly one of several phase runs started at once through, and records who holds it', async () => {
    const sb = sandbox();
    const runs = await Promise.all(
      [1, 2, 3].map(() => sb.run(['phase', 'run', '2', '--date', DATE, '--yes'])),
    );
    expect(runs.map((r) => r.code).sort()).toEqual([0, 3, 3]);
    expect(runs.filter((r) => r.code === 3).every((r) => r.stderr.includes('run it twice'))).toBe(
      true,
    );
    expect(await messages(sb, 'phase2-trigger')).toHaveLength(1);
  });

  it('shows the refusal on --dry-run without writing', async () => {
    const sb = sandbox();
    expect((await sb.run(['phase', 'run', '2', '--date', DATE, '--yes'])).code).toBe(0);
    const dry = await sb.run(['phase', 'run', '2', '--date', DATE, '--dry-run']);
    expect(dry.code).toBe(3);
    expect(await messages(sb, 'phase2-trigger')).toHaveLength(1);
  });
});
