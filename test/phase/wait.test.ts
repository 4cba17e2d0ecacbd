import { describe, expect, it } from 'vitest';

import { recordReports } from '../../src/lib/completion.js';
import { recordPrediction, startBatch } from '../../src/lib/coordinator/index.js';
import { DATE, sandbox, writePhaseOutput, writeRunHistory, type Sandbox } from './fixtures.js';

/** Resolves once the trigger is on the log: the CLI has sent it and is now waiting. */
async function untilSent(sb: Sandbox, topic: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const sent = await sb.with((ctx) => ctx.backends.messages.list({ topic }));
    if (sent.length > 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no message on ${topic}`);
}

const PHASE3 = [
  'PlayerGameSummaryProcessor',
  'TeamOffenseGameSummaryProcessor',
  'TeamDefenseGameSummaryProcessor',
  'UpcomingPlayerGameContextProcessor',
  'UpcomingTeamGameContextProcessor',
];

describe('phase run --wait', { timeout: 90_000 }, () => {
  it('ends with exit 0 when the phase 3 gate completes while it waits, with NDJSON events', async () => {
    const sb = sandbox();
    await sb.with((ctx) => writePhaseOutput(ctx, 2, DATE));
    const running = sb.run(
      [
        'phase',
        'run',
        '3',
        '--date',
        DATE,
        '--correlation-id',
        'w1',
        '--wait',
        '--timeout',
        '60s',
        '--yes',
        '--json',
      ],
      { timeoutMs: 90_000 },
    );
    await untilSent(sb, 'phase3-trigger');
    await sb.with((ctx) =>
      recordReports(
        ctx,
        3,
        DATE,
        PHASE3.map((processor) => ({
          processor,
          status: 'success' as const,
          correlationId: 'w1',
          recordCount: 10,
          entitiesChanged: [],
        })),
      ),
    );

    const result = await running;
    expect(result.code).toBe(0);
    const events = result.events<{ event: string; done?: number; total?: number }>();
    expect(events[0]).toMatchObject({ event: 'sent', correlation_id: 'w1' });
    expect(events.at(-1)).toMatchObject({ event: 'complete', done: 5, total: 5 });
  });

  it('ends with exit 1 when run history shows a failed run of the phase for the date', async () => {
    const sb = sandbox();
    await sb.with((ctx) => writePhaseOutput(ctx, 2, DATE));
    const running = sb.run(
      ['phase', 'run', '3', '--date', DATE, '--wait', '--timeout', '60s', '--yes'],
      {
        timeoutMs: 90_000,
      },
    );
    await untilSent(sb, 'phase3-trigger');
    await sb.with((ctx) =>
      writeRunHistory(ctx, [
        {
          processor: 'TeamDefenseGameSummaryProcessor',
          phase: 3,
          gameDate: DATE,
          status: 'failed',
          error: 'quota exceeded',
        },
      ]),
    );

    const result = await running;
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /Phase 3 failed for 2026-01-15: TeamDefenseGameSummaryProcessor \(quota exceeded\)/,
    );
  });

  it('ends with exit 1 at its timeout and names the processors still missing', async () => {
    const sb = sandbox();
    const result = await sb.run([
      'phase',
      'run',
      '2',
      '--date',
      DATE,
      '--wait',
      '--timeout',
      '2s',
      '--yes',
      '--json',
    ]);
    expect(result.code).toBe(1);
    const last = result.events<{ event: string; missing: string[] }>().at(-1)!;
    expect(last.event).toBe('timeout');
    expect(last.missing).toHaveLength(21);
    expect(last.missing).toContain('OddsApiPropsProcessor');
  });

  it('follows phase 5 through the coordinator batch until it is complete', async () => {
    const sb = sandbox();
    await sb.with((ctx) => writePhaseOutput(ctx, 4, DATE));
    const running = sb.run(
      ['phase', 'run', '5', '--date', DATE, '--wait', '--timeout', '60s', '--yes'],
      {
        timeoutMs: 90_000,
      },
    );
    await untilSent(sb, 'phase5-trigger');
    await sb.with(async (ctx) => {
      await startBatch(ctx, DATE, {
        players: ['a', 'b'],
        correlationId: 'c',
        instance: 'coordinator-1',
      });
      await recordPrediction(ctx, DATE, 'a');
      await recordPrediction(ctx, DATE, 'b');
    });
    const result = await running;
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('Phase 5 completed for 2026-01-15 (2/2 predictions)');
  });
});
