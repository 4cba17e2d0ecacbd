/**
 * The embedded backend: documents, warehouse and message log in one DuckDB file, so a drill
 * or a test runs the whole pipeline with no cloud.
 */

import type { Backends, EndpointResponse, Endpoints } from '../ports.js';
import { LocalBus, MessageLog } from './bus.js';
import { LocalDatabase } from './database.js';
import { LocalDocuments } from './documents.js';
import { LocalWarehouse } from './warehouse.js';

export { LocalDatabase } from './database.js';
export { LocalWarehouse } from './warehouse.js';
export { MessageLog, type LoggedMessage } from './bus.js';

/** Topic on which HTTP calls to Cloud Run services are recorded for the simulated services. */
export const ENDPOINT_TOPIC = 'sandbox-endpoint-requests';

export interface LocalBackends extends Backends {
  readonly kind: 'local';
  readonly database: LocalDatabase;
  readonly messages: MessageLog;
}

export interface LocalOpenOptions {
  path: string;
  timeoutMs?: number;
  /** How long to wait for another process to release the file (default 30 s). */
  lockTimeoutMs?: number;
}

export function openLocalBackends(options: LocalOpenOptions): LocalBackends {
  const database = new LocalDatabase(options.path, {
    lockTimeoutMs: options.lockTimeoutMs ?? Math.max(options.timeoutMs ?? 0, 30_000),
  });
  const bus = new LocalBus(database);
  const endpoints: Endpoints = {
    // The sandbox has no HTTP services: a call becomes a message that `sandbox drain` serves.
    async post(url, body): Promise<EndpointResponse> {
      const [outcome] = await bus.publish(ENDPOINT_TOPIC, [
        { data: { url, body }, attributes: { url } },
      ]);
      if (!outcome?.ok) return { status: 503, body: { error: outcome?.error ?? 'not recorded' } };
      return { status: 202, body: { queued: true, message_id: outcome.messageId } };
    },
  };
  const warehouse = new LocalWarehouse(database);
  return {
    kind: 'local',
    database,
    documents: new LocalDocuments(database),
    warehouse,
    bus,
    endpoints,
    messages: new MessageLog(database),
    async ping(backend) {
      await warehouse.query('SELECT 1 AS ok');
      return `${backend} in ${options.path}`;
    },
    close: () => database.close(),
  };
}

export function isLocalBackends(backends: Backends): backends is LocalBackends {
  return backends.kind === 'local';
}
