import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/lib/config.js';
import { UserError } from '../../src/lib/errors.js';
import { runCli } from '../helpers/cli.js';

function folderWith(config: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'pipectl-config-'));
  writeFileSync(join(dir, 'pipectl.config.json'), JSON.stringify(config));
  return dir;
}

describe('configuration', () => {
  it('gives a working local profile with every default name when no file exists', () => {
    const config = loadConfig({ cwd: mkdtempSync(join(tmpdir(), 'pipectl-empty-')), env: {} });
    expect(config.profileName).toBe('local');
    expect(config.source).toBe('built-in defaults');
    expect(config.processors.phase2).toHaveLength(21);
    expect(config.processors.phase3.map((p) => p.name)).toContain(
      'TeamDefenseGameSummaryProcessor',
    );
    expect(config.processors.phase4.at(-1)!.name).toBe('MLFeatureStoreProcessor');
    expect(config.collections.coordinatorLock).toBe('coordinator_lock');
    expect(config.topics.predictionRequest).toBe('prediction-request');
    expect(config.profile.sandbox).toMatch(/\.pipectl\/sandbox\.duckdb$/);
  });

  it('finds pipectl.config.json from a sub-folder upward and merges it over the defaults', () => {
    const dir = folderWith({ entityCap: 250, topics: { phase4Trigger: 'p4-go' } });
    const nested = join(dir, 'a', 'b');
    mkdirSync(nested, { recursive: true });
    const config = loadConfig({ cwd: nested, env: {} });
    expect(config.source).toBe(join(dir, 'pipectl.config.json'));
    expect(config.entityCap).toBe(250);
    expect(config.topics.phase4Trigger).toBe('p4-go');
    expect(config.topics.phase3Trigger).toBe('phase3-trigger');
  });

  it('chooses the profile from --profile over PIPECTL_PROFILE', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'pipectl-empty-'));
    expect(loadConfig({ cwd, env: { PIPECTL_PROFILE: 'staging' } }).profileName).toBe('staging');
    expect(
      loadConfig({ cwd, profile: 'prod', env: { PIPECTL_PROFILE: 'staging' } }).profileName,
    ).toBe('prod');
  });

  it('names the key, the value and what is accepted for a bad value', () => {
    const cwd = folderWith({ profiles: { staging: { backend: 'gpc' } } });
    expect(() => loadConfig({ cwd, env: {} })).toThrowError(
      /profiles\.staging\.backend: got "gpc"; expected one of local, gcp/,
    );
  });

  it('names an unknown key instead of ignoring it', () => {
    const cwd = folderWith({ entityCapp: 5 });
    expect(() => loadConfig({ cwd, env: {} })).toThrowError(/unknown key "entityCapp"/);
  });

  it('rejects a time zone that does not exist', () => {
    const cwd = folderWith({ timezone: 'America/Springfield' });
    expect(() => loadConfig({ cwd, env: {} })).toThrowError(/timezone: got "America\/Springfield"/);
  });

  it('reports a file that is not JSON as bad input', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pipectl-config-'));
    writeFileSync(join(dir, 'pipectl.config.json'), '{ nope');
    expect(() => loadConfig({ cwd: dir, env: {} })).toThrowError(UserError);
  });

  it('lets the emulator variables point the emulator profile anywhere', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'pipectl-empty-'));
    const config = loadConfig({
      cwd,
      profile: 'emulator',
      env: { FIRESTORE_EMULATOR_HOST: '127.0.0.1:1234', PUBSUB_EMULATOR_HOST: '127.0.0.1:2345' },
    });
    expect(config.profile.firestoreEmulatorHost).toBe('127.0.0.1:1234');
    expect(config.profile.pubsubEmulatorHost).toBe('127.0.0.1:2345');
  });

  it('exits 2 from the CLI on a bad config key and prints the resolved config otherwise', async () => {
    const bad = await runCli(['config', 'show'], {
      cwd: folderWith({ sla: { deadline: '25:00' } }),
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('sla.deadline: got "25:00"');

    const good = await runCli(['config', 'show', '--json', '--profile', 'emulator'], {
      cwd: folderWith({}),
    });
    expect(good.code).toBe(0);
    expect(good.json<{ profileName: string }>().profileName).toBe('emulator');
  });
});
