// A separate OS process working on a shared sandbox file, for the multi-process tests.
// Usage: node worker.mjs <file> increment <count> | hold <ms> | read <lockTimeoutMs>
import { openLocalBackends } from '../../dist/lib/backends/local/index.js';

const [file, mode, arg] = process.argv.slice(2);
const backends = openLocalBackends({
  path: file,
  lockTimeoutMs: mode === 'read' ? Number(arg) : 30_000,
});

try {
  if (mode === 'increment') {
    for (let i = 0; i < Number(arg); i++) {
      await backends.documents.transaction(async (tx) => {
        const snap = await tx.get('counters/shared');
        const count = (snap.data?.count ?? 0) + 1;
        tx.set('counters/shared', { count });
        return count;
      });
    }
  } else if (mode === 'hold') {
    await backends.database.hold(async () => {
      process.stdout.write('holding\n');
      await new Promise((r) => setTimeout(r, Number(arg)));
    });
  } else if (mode === 'read') {
    await backends.documents.get('counters/shared');
  }
  await backends.close();
} catch (error) {
  process.stderr.write(`${error.constructor.name}: ${error.message}\n`);
  process.exitCode = error.exitCode ?? 1;
}
