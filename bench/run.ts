/**
 * `npm run bench`: runs every `bench/*.bench.ts` module in turn and prints one JSON document
 * of their results. Each module exports `run(): Promise<Record<string, unknown>>` and measures
 * ratios within the same run, so results compare across machines of different speed.
 */

import { readdirSync } from 'node:fs';
import { join } from 'node:path';

interface BenchModule {
  run(): Promise<Record<string, unknown>>;
}

const only = process.argv.slice(2);
const dir = import.meta.dirname;
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((name) => f.startsWith(name)))
  .sort();

const results: Record<string, unknown> = {};
let failed = false;
for (const file of files) {
  const name = file.replace(/\.bench\.ts$/, '');
  process.stderr.write(`bench: ${name}\n`);
  try {
    const module = (await import(join(dir, file))) as BenchModule;
    results[name] = await module.run();
  } catch (error) {
    failed = true;
    results[name] = { error: (error as Error).message };
  }
}
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
process.exitCode = failed ? 1 : 0;
