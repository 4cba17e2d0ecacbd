/**
 * Starts the Firestore and Pub/Sub emulators and the loopback BigQuery server once per test
 * run, and stops all of them afterwards, also when tests fail or the run is interrupted.
 *
 * Tests read the hosts with `inject('firestoreHost')` etc. (null when that backend is off);
 * they are also exported in the standard variables so a spawned `pipectl --profile emulator`
 * finds them. Set PIPECTL_EMULATORS=off to run without the emulators.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { TestProject } from 'vitest/node';

import { startBigQueryServer, type BigQueryServer } from './bigquery-server.js';
import {
  findLauncher,
  findSdkRoot,
  killEmulatorNow,
  startEmulator,
  type Emulator,
  type EmulatorKind,
} from './emulators.js';

declare module 'vitest' {
  export interface ProvidedContext {
    firestoreHost: string | null;
    pubsubHost: string | null;
    bigqueryEndpoint: string | null;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const workDir = mkdtempSync(join(tmpdir(), 'pipectl-test-'));
  const emulators: Emulator[] = [];
  let bigquery: BigQueryServer | undefined;

  // Exit handlers cannot wait, so they kill the process groups outright.
  const killAll = () => emulators.forEach((emulator) => killEmulatorNow(emulator));
  const onSignal = (signal: NodeJS.Signals) => {
    killAll();
    process.kill(process.pid, signal);
  };
  process.once('exit', killAll);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const disabled = process.env.PIPECTL_EMULATORS === 'off';
  const sdkRoot = disabled ? undefined : findSdkRoot();
  const start = async (kind: EmulatorKind): Promise<string | null> => {
    if (disabled) return null;
    const launcher = findLauncher(kind, sdkRoot);
    if ('missing' in launcher) {
      warn(`${kind} emulator is off: ${launcher.missing}; its suites are skipped`);
      return null;
    }
    const logFile = join(workDir, `${kind}.log`);
    try {
      const emulator = await startEmulator(kind, launcher.path, { logFile });
      emulators.push(emulator);
      return emulator.host;
    } catch (error) {
      warn(`${kind} emulator is off: it ${(error as Error).message} (log: ${logFile})`);
      return null;
    }
  };

  const [firestoreHost, pubsubHost] = await Promise.all([start('firestore'), start('pubsub')]);
  try {
    bigquery = await startBigQueryServer({ path: join(workDir, 'bigquery.duckdb') });
  } catch (error) {
    warn(`bigquery server is off: ${(error as Error).message}`);
  }
  const bigqueryEndpoint = bigquery?.url ?? null;

  project.provide('firestoreHost', firestoreHost);
  project.provide('pubsubHost', pubsubHost);
  project.provide('bigqueryEndpoint', bigqueryEndpoint);
  if (firestoreHost) process.env.FIRESTORE_EMULATOR_HOST = firestoreHost;
  if (pubsubHost) process.env.PUBSUB_EMULATOR_HOST = pubsubHost;
  if (bigqueryEndpoint) process.env.PIPECTL_BIGQUERY_ENDPOINT = bigqueryEndpoint;

  const on = (value: string | null) => (value ? 'on' : 'off');
  console.log(
    `emulators: firestore=${on(firestoreHost)} pubsub=${on(pubsubHost)} bigquery=${on(bigqueryEndpoint)}`,
  );

  return async () => {
    await Promise.allSettled([
      ...emulators.map((emulator) => emulator.stop()),
      bigquery?.close() ?? Promise.resolve(),
    ]);
    emulators.length = 0;
    process.off('exit', killAll);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    rmSync(workDir, { recursive: true, force: true });
  };
}

function warn(message: string): void {
  console.error(`\n!!! ${message}\n`);
}
