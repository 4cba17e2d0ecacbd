import { describe, expect, it } from 'vitest';

import { runCli, tempSandbox } from '../helpers/cli.js';

describe('pipectl basics', () => {
  it('lists command groups, examples and exit codes in --help without loading backends', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('preflight');
    expect(result.stdout).toContain('Exit codes:');
    expect(result.stdout).toMatch(/4 {2}a backend is unreachable/);
  });

  it('refuses an unknown profile with exit 2 and names the accepted ones', async () => {
    const result = await runCli(['preflight', '--profile', 'prdo', '--json']);
    expect(result.code).toBe(2);
    expect(result.json<{ error: { message: string; hint: string } }>().error.hint).toContain(
      'local, emulator, staging, prod',
    );
  });

  it('treats an unknown option as bad input (exit 2)', async () => {
    const result = await runCli(['preflight', '--frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown option');
  });

  it('passes preflight on the local profile and reports every backend as JSON', async () => {
    const result = await runCli(['preflight', '--json'], {
      env: { PIPECTL_SANDBOX: tempSandbox() },
    });
    expect(result.code).toBe(0);
    const body = result.json<{ profile: string; checks: { backend: string; ok: boolean }[] }>();
    expect(body.profile).toBe('local');
    expect(body.checks.map((c) => c.backend)).toEqual([
      'documents',
      'warehouse',
      'bus',
      'endpoints',
    ]);
    expect(body.checks.every((c) => c.ok)).toBe(true);
  });
});
