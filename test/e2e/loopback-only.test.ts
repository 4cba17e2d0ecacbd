import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, inject, it } from 'vitest';

import { todayIn } from '../../src/lib/dates.js';
import { runCli } from '../helpers/cli.js';

const firestore = inject('firestoreHost');
const pubsub = inject('pubsubHost');
const bigquery = inject('bigqueryEndpoint');
const GUARD = join(import.meta.dirname, '..', 'helpers', 'net-guard.mjs');

describe.skipIf(!(firestore && pubsub && bigquery))(
  'the emulator profile stays on loopback',
  () => {
    it('makes no connection or DNS lookup off this machine for preflight, status and a publish', async () => {
      const log = join(mkdtempSync(join(tmpdir(), 'pipectl-net-')), 'violations.log');
      const env = {
        FIRESTORE_EMULATOR_HOST: firestore ?? undefined,
        PUBSUB_EMULATOR_HOST: pubsub ?? undefined,
        PIPECTL_BIGQUERY_ENDPOINT: bigquery ?? undefined,
        PIPECTL_NET_GUARD_LOG: log,
        NODE_OPTIONS: `--import ${GUARD}`,
        // Nothing in the environment may point the clients at credentials or the metadata server.
        GOOGLE_APPLICATION_CREDENTIALS: undefined,
        METADATA_SERVER_DETECTION: undefined,
      };
      const date = todayIn('America/Los_Angeles');
      const runs = [
        await runCli(['preflight', '--profile', 'emulator', '--json'], { env }),
        await runCli(['status', '--profile', 'emulator', '--date', date, '--json'], { env }),
        await runCli(
          ['phase', 'run', '2', '--profile', 'emulator', '--date', date, '--yes', '--json'],
          { env },
        ),
      ];

      expect(existsSync(log) ? readFileSync(log, 'utf8') : '').toBe('');
      expect(runs[0]!.code, runs[0]!.stderr).toBe(0);
      expect(runs[1]!.code, runs[1]!.stderr).toBeLessThanOrEqual(1);
      expect(runs[2]!.code, runs[2]!.stderr).toBe(0);
    });
  },
);
