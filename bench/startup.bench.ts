/**
 * Start-up cost: `pipectl --version` and `pipectl --help` against bare `node -e 0` (and
 * `gcloud --version` where installed), interleaved so that machine noise hits every command
 * alike. Targets: --version at most 1.5 times bare Node, --help at most 2 times.
 */

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const BIN = join(import.meta.dirname, '..', 'bin', 'pipectl.js');
const RUNS = 15;

interface Subject {
  name: string;
  command: string;
  args: string[];
}

function time(subject: Subject): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(subject.command, subject.args, { stdio: 'ignore' });
  if (result.status !== 0) throw new Error(`${subject.name} exited ${String(result.status)}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function hasGcloud(): boolean {
  return spawnSync('gcloud', ['--version'], { stdio: 'ignore' }).status === 0;
}

export async function run(): Promise<Record<string, unknown>> {
  const subjects: Subject[] = [
    { name: 'node', command: process.execPath, args: ['-e', '0'] },
    { name: 'version', command: process.execPath, args: [BIN, '--version'] },
    { name: 'help', command: process.execPath, args: [BIN, '--help'] },
  ];
  const gcloud = hasGcloud();
  if (gcloud) subjects.push({ name: 'gcloud', command: 'gcloud', args: ['--version'] });

  const samples = new Map(subjects.map((s) => [s.name, [] as number[]]));
  for (const subject of subjects) time(subject); // warm the file cache
  for (let i = 0; i < RUNS; i++) {
    for (const subject of subjects) {
      if (subject.name === 'gcloud' && i >= 5) continue; // slow; five samples are enough
      samples.get(subject.name)!.push(time(subject));
    }
  }

  const ms = Object.fromEntries(
    [...samples].map(([name, values]) => [name, round(median(values))]),
  );
  const base = ms.node!;
  const ratios = {
    version_vs_node: round(ms.version! / base),
    help_vs_node: round(ms.help! / base),
    ...(gcloud ? { gcloud_vs_help: round(ms.gcloud! / ms.help!) } : {}),
  };
  return {
    runs: RUNS,
    median_ms: ms,
    ratios,
    targets: { version_vs_node: 1.5, help_vs_node: 2 },
    met: ratios.version_vs_node <= 1.5 && ratios.help_vs_node <= 2,
  };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
