// A separate OS process that reports processors to a gate on a shared sandbox file, the way
// the pipeline's processors (or the orchestrator function) would.
// Usage: node reporter.mjs <sandbox> <phase> <dates,...> <processors,...>
// Each date's processors are reported all at once; prints one JSON line per date with the
// number of reports that completed the gate. With PIPECTL_TEST_CRASH_AFTER_TRIGGER_COMMIT=1
// the process kills itself between the trigger commit and the publish.
import { openLocalBackends } from '../../dist/lib/backends/local/index.js';
import { recordReport } from '../../dist/lib/completion.js';
import { loadConfig } from '../../dist/lib/config.js';

const [sandbox, phase, dates, processors] = process.argv.slice(2);
const backends = openLocalBackends({ path: sandbox });
const ctx = { config: loadConfig({ env: {} }), backends, actor: `reporter-${process.pid}` };

try {
  for (const date of dates.split(',')) {
    const outcomes = await Promise.all(
      processors.split(',').map((processor) =>
        recordReport(ctx, Number(phase), date, {
          processor,
          status: 'success',
          correlationId: `corr-${date}`,
          recordCount: 10,
          entitiesChanged: [`${processor}-entity`],
        }),
      ),
    );
    const triggered = outcomes.filter((o) => o.triggered).length;
    process.stdout.write(`${JSON.stringify({ date, triggered })}\n`);
  }
  await backends.close();
} catch (error) {
  process.stderr.write(`${error.constructor.name}: ${error.message}\n`);
  process.exitCode = error.exitCode ?? 1;
}
