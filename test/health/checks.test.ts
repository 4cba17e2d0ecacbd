import { beforeAll, describe, expect, it } from 'vitest';

import { runCli, tempSandbox } from '../helpers/cli.js';
import { AFTER_DEADLINE, DATE, EARLY_MORNING, writeDay, type DayOptions } from './fixtures.js';

interface Check {
  name: string;
  status: 'pass' | 'warn' | 'fail';
  value: string;
  threshold: string;
  detail: string;
  next: string | null;
  measures: Record<string, unknown>;
}
interface Report {
  game_date: string;
  status: string;
  checks: Check[];
  queries: number;
  unavailable: string[];
}

async function health(sandbox: string, extra: string[] = [], asOf = AFTER_DEADLINE) {
  const result = await runCli(['health', '--date', DATE, '--as-of', asOf, '--json', ...extra], {
    env: { PIPECTL_SANDBOX: sandbox },
  });
  return { code: result.code, report: result.json<Report>(), stderr: result.stderr };
}

const failing = (report: Report) =>
  report.checks.filter((c) => c.status === 'fail').map((c) => c.name);
const check = (report: Report, name: string) => report.checks.find((c) => c.name === name)!;

async function day(options: DayOptions = {}): Promise<string> {
  const path = tempSandbox('pipectl-health-');
  await writeDay(path, options);
  return path;
}

describe('health on a healthy day', () => {
  let sandbox: string;
  beforeAll(async () => {
    sandbox = await day();
  });

  it('passes every check, exits 0 and costs at most five warehouse queries', async () => {
    const { code, report } = await health(sandbox);
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([
      ['prediction-quality', 'pass'],
      ['prediction-coverage', 'pass'],
      ['feature-nulls', 'pass'],
      ['zero-changes', 'pass'],
      ['empty-output', 'pass'],
      ['orphaned-correlation', 'pass'],
      ['duplicate-trigger', 'pass'],
      ['stuck-gate', 'pass'],
      ['stale-lease', 'pass'],
    ]);
    expect(code).toBe(0);
    expect(report.queries).toBe(5);
    expect(report.unavailable).toEqual([]);
  });

  it('runs only the checks named with --check, and only the queries they need', async () => {
    const { code, report } = await health(sandbox, [
      '--check',
      'prediction-quality',
      '--check',
      'stuck-gate,stale-lease',
    ]);
    expect(code).toBe(0);
    expect(report.checks.map((c) => c.name)).toEqual([
      'prediction-quality',
      'stuck-gate',
      'stale-lease',
    ]);
    expect(report.queries).toBe(1);
  });

  it('refuses an unknown check name with exit 2 and lists the accepted ones', async () => {
    const result = await runCli(['health', '--date', DATE, '--check', 'nan', '--json'], {
      env: { PIPECTL_SANDBOX: sandbox },
    });
    expect(result.code).toBe(2);
    expect(result.json<{ error: { hint: string } }>().error.hint).toContain('prediction-quality');
  });

  it('prints a table with check, status, value, threshold and next, and the query count with --verbose', async () => {
    const result = await runCli(
      ['health', '--date', DATE, '--as-of', AFTER_DEADLINE, '--verbose'],
      {
        env: { PIPECTL_SANDBOX: sandbox },
      },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^CHECK\s+STATUS\s+VALUE\s+THRESHOLD\s+NEXT/);
    expect(result.stdout).toContain('0 of 9 checks failed (5 warehouse queries)');
    expect(result.stderr).toContain('Warehouse queries: 5');
  });
});

describe('each failure mode fails its own check and no other', () => {
  const cases: [string, DayOptions, string[]][] = [
    [
      'NaN predictions',
      { prediction: (i) => (i % 10 === 0 ? Number.NaN : 20) },
      ['prediction-quality'],
    ],
    ['absurd predictions', { prediction: () => 80 }, ['prediction-quality']],
    ['NULL features', { nullFeatures: { fatigue_adjustment: 60 } }, ['feature-nulls']],
    ['a broken hash (zero changes)', { changed: 0 }, ['zero-changes']],
    ['a thin first run', { playerEntities: 40 }, ['zero-changes']],
    [
      'a success that wrote nothing',
      { emptyTables: ['nba_analytics.player_game_summary'] },
      ['empty-output'],
    ],
    ['a lost correlation id', { loseCorrelation: true }, ['orphaned-correlation']],
    ['a double run for one trigger', { doubleRun: true }, ['duplicate-trigger']],
    ['a processor that never reports', { stuckGate: true }, ['stuck-gate']],
    ['a dead coordinator’s lease', { staleLease: true }, ['stale-lease']],
    ['missing predictions after the deadline', { unpredicted: 30 }, ['prediction-coverage']],
  ];

  for (const [what, options, expected] of cases) {
    it(`${what}: fails ${expected.join(', ')} and exits 1`, async () => {
      const { code, report } = await health(await day(options));
      expect(failing(report)).toEqual(expected);
      expect(code).toBe(1);
      const failed = check(report, expected[0]!);
      expect(failed.next).toMatch(/^pipectl /);
      expect(failed.detail.length).toBeGreaterThan(10);
    });
  }
});

describe('threshold edges', () => {
  const players = 200;

  it('passes exactly 5% NaN and fails 5.1%', async () => {
    const at = await health(
      await day({ players: 1000, minimal: true, prediction: (i) => (i < 50 ? Number.NaN : 20) }),
      ['--check', 'prediction-quality'],
    );
    expect(check(at.report, 'prediction-quality').status).toBe('pass');
    expect(check(at.report, 'prediction-quality').measures.bad_ratio).toBe(0.05);
    const over = await health(
      await day({ players: 1000, minimal: true, prediction: (i) => (i < 51 ? null : 20) }),
      ['--check', 'prediction-quality'],
    );
    expect(check(over.report, 'prediction-quality')).toMatchObject({
      status: 'fail',
      value: 'mean 20.00, bad 5.1%',
    });
    expect(over.code).toBe(1);
  });

  it('passes a mean of exactly 5 and of exactly 50, and fails just outside', async () => {
    for (const [value, status] of [
      [5, 'pass'],
      [50, 'pass'],
      [4.99, 'fail'],
      [50.01, 'fail'],
    ] as const) {
      const { report } = await health(
        await day({ players: 40, minimal: true, prediction: () => value }),
        ['--check', 'prediction-quality'],
      );
      expect([value, check(report, 'prediction-quality').status]).toEqual([value, status]);
    }
  });

  it('passes exactly 10% NULL in a critical feature and fails 10.5%', async () => {
    const at = await health(
      await day({ players, minimal: true, nullFeatures: { similarity_baseline: 20 } }),
      ['--check', 'feature-nulls'],
    );
    expect(check(at.report, 'feature-nulls').status).toBe('pass');
    const over = await health(
      await day({ players, minimal: true, nullFeatures: { similarity_baseline: 21 } }),
      ['--check', 'feature-nulls'],
    );
    expect(check(over.report, 'feature-nulls').status).toBe('fail');
    expect(check(over.report, 'feature-nulls').detail).toContain('similarity_baseline: 21 of 200');
  });

  it('passes a first run of exactly 100 entities and fails 99', async () => {
    const at = await health(await day({ players: 100 }), ['--check', 'zero-changes']);
    expect(check(at.report, 'zero-changes').status).toBe('pass');
    const under = await health(await day({ players: 100, playerEntities: 99 }), [
      '--check',
      'zero-changes',
    ]);
    expect(check(under.report, 'zero-changes').status).toBe('fail');
  });

  it('weighs coverage by the time left: warns early, fails within an hour of 10:00 ET', async () => {
    const sandbox = await day({ players, unpredicted: 20 }); // 90% covered
    const early = await health(sandbox, ['--check', 'prediction-coverage'], EARLY_MORNING);
    expect(check(early.report, 'prediction-coverage').status).toBe('warn');
    expect(early.code).toBe(0);
    const hourBefore = await health(
      sandbox,
      ['--check', 'prediction-coverage'],
      '2025-01-15T14:00:00Z', // 09:00 ET: exactly 60 minutes left
    );
    expect(check(hourBefore.report, 'prediction-coverage').status).toBe('fail');
    const justBefore = await health(
      sandbox,
      ['--check', 'prediction-coverage'],
      '2025-01-15T13:59:00Z',
    );
    expect(check(justBefore.report, 'prediction-coverage').status).toBe('warn');
  });

  it('warns (exit 0) when coverage is at least 95% but not complete, even after the deadline', async () => {
    const { code, report } = await health(await day({ players, unpredicted: 10 }), [
      '--check',
      'prediction-coverage',
    ]);
    expect(check(report, 'prediction-coverage')).toMatchObject({
      status: 'warn',
      value: '190/200 (95.0%)',
    });
    expect(code).toBe(0);
  });
});

describe('critical feature names from the configuration', () => {
  it('refuses a name that is not an identifier (exit 2) before any query', async () => {
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'pipectl-health-config-'));
    const config = join(dir, 'pipectl.config.json');
    writeFileSync(config, JSON.stringify({ health: { criticalFeatures: ['x` IS NULL) --'] } }));
    const result = await runCli(['health', '--date', DATE, '--config', config, '--json'], {
      env: { PIPECTL_SANDBOX: join(dir, 'sandbox.duckdb') },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('health.criticalFeatures');
  });

  it('fails feature-nulls when a configured column is not in the feature store', async () => {
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'pipectl-health-config-'));
    const config = join(dir, 'pipectl.config.json');
    writeFileSync(
      config,
      JSON.stringify({ health: { criticalFeatures: ['similarity_baseline', 'usage_rate'] } }),
    );
    const result = await runCli(
      ['health', '--date', DATE, '--config', config, '--json', '--check', 'feature-nulls'],
      { env: { PIPECTL_SANDBOX: await day({ players: 20 }) } },
    );
    expect(result.code).toBe(1);
    expect(result.json<Report>().checks[0]!.detail).toContain('no column usage_rate');
  });
});
