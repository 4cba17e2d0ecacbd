/**
 * Starts and stops the official Firestore and Pub/Sub emulators from the Google Cloud CLI.
 *
 * Each emulator runs in its own process group: its launcher is a shell script that starts the
 * JVM as a child instead of replacing itself with it, so killing the script alone would leave
 * Java running. Stopping kills the whole group.
 */

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';

export type EmulatorKind = 'firestore' | 'pubsub';

export interface Emulator {
  kind: EmulatorKind;
  /** `127.0.0.1:PORT` */
  host: string;
  pid: number;
  stop(): Promise<void>;
}

const LAUNCHERS: Record<EmulatorKind, string> = {
  firestore: 'platform/cloud-firestore-emulator/cloud_firestore_emulator',
  pubsub: 'platform/pubsub-emulator/bin/cloud-pubsub-emulator',
};

const COMMON_SDK_ROOTS = [
  '/usr/lib/google-cloud-sdk',
  '/usr/share/google-cloud-sdk',
  '/opt/google-cloud-sdk',
  '/google-cloud-sdk',
];

/**
 * The Google Cloud SDK root: `PIPECTL_GCLOUD_SDK_ROOT`, else what `gcloud info` reports, else
 * a common install path. Undefined when there is none.
 */
export function findSdkRoot(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const override = env.PIPECTL_GCLOUD_SDK_ROOT;
  if (override) return existsSync(override) ? override : undefined;
  try {
    const root = execFileSync('gcloud', ['info', '--format=value(installation.sdk_root)'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 20_000,
      env: { ...env, CLOUDSDK_CORE_DISABLE_PROMPTS: '1' },
    }).trim();
    if (root && existsSync(root)) return root;
  } catch {
    // No gcloud on PATH, or it failed: try the usual places.
  }
  return COMMON_SDK_ROOTS.find((root) => existsSync(root));
}

/** The launcher of an emulator, or why it cannot be used. */
export function findLauncher(
  kind: EmulatorKind,
  sdkRoot: string | undefined,
): { path: string } | { missing: string } {
  if (!sdkRoot) return { missing: 'no Google Cloud CLI found (set PIPECTL_GCLOUD_SDK_ROOT)' };
  const path = join(sdkRoot, LAUNCHERS[kind]);
  if (!existsSync(path)) {
    return { missing: `${path} is missing (gcloud components install ${componentName(kind)})` };
  }
  return { path };
}

function componentName(kind: EmulatorKind): string {
  return kind === 'firestore' ? 'cloud-firestore-emulator' : 'pubsub-emulator';
}

/** A port nothing listens on right now (the emulator binds it a moment later). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startEmulator(
  kind: EmulatorKind,
  launcher: string,
  options: { logFile?: string; readyTimeoutMs?: number } = {},
): Promise<Emulator> {
  const port = await freePort();
  const args =
    kind === 'firestore'
      ? ['start', '--host=127.0.0.1', `--port=${port}`]
      : ['--host=127.0.0.1', `--port=${port}`];
  const log = options.logFile ? openSync(options.logFile, 'a') : 'ignore';
  const child = spawn(launcher, args, {
    detached: true,
    stdio: ['ignore', log, log],
  });
  if (typeof log === 'number') closeSync(log);
  if (child.pid === undefined) throw new Error(`Could not start the ${kind} emulator`);
  startReaper(child.pid);

  const emulator: Emulator = {
    kind,
    host: `127.0.0.1:${port}`,
    pid: child.pid,
    stop: () => stopGroup(child),
  };
  try {
    await waitForPort(port, child, options.readyTimeoutMs ?? 60_000);
  } catch (error) {
    await emulator.stop();
    throw error;
  }
  return emulator;
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode}`);
    if (await canConnect(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`did not listen on port ${port} within ${timeoutMs} ms`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * A tiny detached watcher that kills the emulator's process group when this process is gone,
 * however it went: the test runner may exit on Ctrl-C or be killed outright before any exit
 * handler runs. It ends by itself once the group has stopped.
 */
function startReaper(group: number): void {
  const script = `
    const [parent, group] = process.argv.slice(1).map(Number);
    const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
    setInterval(() => {
      if (!alive(-group)) process.exit(0);
      if (!alive(parent)) { try { process.kill(-group, 'SIGKILL'); } catch {} process.exit(0); }
    }, 500);`;
  spawn(process.execPath, ['-e', script, String(process.pid), String(group)], {
    detached: true,
    stdio: 'ignore',
  }).unref();
}

/** Terminates the process group, then kills it if it is still there after a grace period. */
async function stopGroup(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  if (!signalGroup(pid, 'SIGTERM')) return;
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    if (!groupAlive(pid)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  signalGroup(pid, 'SIGKILL');
}

/** For exit handlers, which cannot wait: kill the group at once. */
export function killEmulatorNow(emulator: Pick<Emulator, 'pid'>): void {
  signalGroup(emulator.pid, 'SIGKILL');
}

function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Deletes every document of a project in the Firestore emulator. */
export async function clearFirestore(host: string, projectId: string): Promise<void> {
  const url = `http://${host}/emulator/v1/projects/${projectId}/databases/(default)/documents`;
  const response = await fetch(url, { method: 'DELETE' });
  if (!response.ok) {
    throw new Error(`Clearing Firestore at ${host} failed: HTTP ${response.status}`);
  }
}
