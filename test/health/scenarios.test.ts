import { describe, expect, it } from 'vitest';

import { runCli, tempSandbox } from '../helpers/cli.js';

/**
 * Every sandbox scenario, built by the real `sandbox init`, judged by the real `health`. The
 * scenario's runs are placed just before now on a past game date, so the SLA has passed:
 * missing predictions are a failure of prediction-coverage as well as of the root cause.
 */
const DATE = '2025-11-20';

const EXPECTED: Record<string, string[]> = {
  healthy: [],
  'zero-changes': ['zero-changes'],
  'nan-predictions': ['prediction-quality'],
  'null-features': ['feature-nulls'],
  'empty-output': ['empty-output'],
  'orphaned-correlation': ['orphaned-correlation'],
  'double-trigger': ['duplicate-trigger'],
  'stuck-orchestrator': ['prediction-coverage', 'stuck-gate'],
  'stale-lock': ['prediction-coverage', 'stale-lease'],
  'coordinator-crash': ['prediction-coverage', 'stale-lease'],
  'backup-during-run': ['prediction-coverage'],
};

interface Report {
  checks: { name: string; status: string }[];
  unavailable: string[];
}

async function scenario(name: string): Promise<string> {
  const sandbox = tempSandbox(`pipectl-health-${name}-`);
  const init = await runCli(
    ['sandbox', 'init', '--scenario', name, '--date', DATE, '--players', '120', '--json'],
    { env: { PIPECTL_SANDBOX: sandbox } },
  );
  expect(init.code, init.stderr).toBe(0);
  return sandbox;
}

describe('health against every sandbox scenario', () => {
  for (const [name, expected] of Object.entries(EXPECTED)) {
    it(`${name}: fails ${expected.length ? expected.join(' and ') : 'nothing'}`, async () => {
      const sandbox = await scenario(name);
      const result = await runCli(['health', '--date', DATE, '--json'], {
        env: { PIPECTL_SANDBOX: sandbox },
      });
      const report = result.json<Report>();
      const failed = report.checks.filter((c) => c.status === 'fail').map((c) => c.name);
      expect(failed.sort()).toEqual([...expected].sort());
      expect(report.unavailable).toEqual([]);
      expect(result.code).toBe(expected.length ? 1 : 0);

      if (name === 'zero-changes' || name === 'healthy') {
        const verify = await runCli(
          [
            'changes',
            'verify-hash',
            '--table',
            'nba_predictions.ml_feature_store_v2',
            '--date',
            DATE,
            '--json',
          ],
          { env: { PIPECTL_SANDBOX: sandbox } },
        );
        expect(verify.code).toBe(name === 'healthy' ? 0 : 1);
        expect(verify.json<{ collapsed: boolean }>().collapsed).toBe(name !== 'healthy');
      }
    });
  }
});
