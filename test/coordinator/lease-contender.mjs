// One OS process contending for the coordinator lease: waits for a shared start moment so
// that every contender tries at once, then prints whether it won.
import { openLocalBackends } from '../../dist/lib/backends/local/index.js';
import { loadConfig } from '../../dist/lib/config.js';
import { acquireLease } from '../../dist/lib/coordinator/index.js';

const [path, holder, startAt, date] = process.argv.slice(2);
const config = loadConfig({ sandbox: path, env: {}, cwd: '/' });
const backends = openLocalBackends({ path });
const wait = Number(startAt) - Date.now();
if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
const result = await acquireLease({ config, backends, actor: holder }, date, holder, 60);
await backends.close();
process.stdout.write(
  JSON.stringify({ holder, acquired: result.acquired, winner: result.lease.holder }),
);
