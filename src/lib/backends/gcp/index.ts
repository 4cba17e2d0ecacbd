/**
 * The Google Cloud backends: Firestore, BigQuery, Pub/Sub and Cloud Run endpoints.
 *
 * The three client libraries take about half a second to load between them, so they are
 * imported here, on demand, and only by commands that talk to Google. When the profile points
 * at emulators or loopback servers, nothing may leave the machine: the project id is fixed,
 * no credentials are looked up and the metadata server is never probed.
 */

import type { Profile } from '../../config.js';
import { UserError } from '../../errors.js';
import { createPolicy } from '../../resilience.js';
import type { Backends, PingResult } from '../ports.js';
import { PubSubBus } from './bus.js';
import { disableMetadataServer, isLoopbackHost, type Target } from './common.js';
import { FirestoreDocuments } from './documents.js';
import { HttpEndpoints } from './endpoints.js';
import { BigQueryWarehouse } from './warehouse.js';

/** Firestore checks nothing in these on the emulator; it only needs some credentials. */
const STUB_CREDENTIALS = { client_email: 'pipectl@localhost', private_key: 'unused' };

export async function openGcpBackends(profile: Profile): Promise<Backends> {
  const projectId = profile.projectId;
  if (!projectId) {
    throw new UserError('The profile names no projectId', {
      hint: 'Set `projectId` in the profile of pipectl.config.json.',
    });
  }
  const bigqueryUrl = profile.bigqueryEndpoint ? new URL(profile.bigqueryEndpoint) : undefined;
  const onLoopback =
    profile.firestoreEmulatorHost !== undefined ||
    profile.pubsubEmulatorHost !== undefined ||
    (bigqueryUrl !== undefined && isLoopbackHost(bigqueryUrl.hostname));
  if (onLoopback) disableMetadataServer();

  const [firestoreSdk, pubsubSdk, bigquerySdk, authSdk] = await Promise.all([
    import('@google-cloud/firestore'),
    import('@google-cloud/pubsub'),
    import('@google-cloud/bigquery'),
    import('google-auth-library'),
  ]);
  const timeoutMs = profile.timeoutMs;

  const firestoreTarget = describe('Firestore', projectId, profile.firestoreEmulatorHost, () =>
    emulatorHint('firestore', profile.firestoreEmulatorHost),
  );
  const firestore = withEmulatorEnv('FIRESTORE_EMULATOR_HOST', profile.firestoreEmulatorHost, () =>
    profile.firestoreEmulatorHost
      ? new firestoreSdk.Firestore({
          projectId,
          host: profile.firestoreEmulatorHost,
          ssl: false,
          credentials: STUB_CREDENTIALS,
          ignoreUndefinedProperties: true,
        })
      : new firestoreSdk.Firestore({ projectId, ignoreUndefinedProperties: true }),
  );

  const pubsubTarget = describe('Pub/Sub', projectId, profile.pubsubEmulatorHost, () =>
    emulatorHint('pubsub', profile.pubsubEmulatorHost),
  );
  const pubsub = profile.pubsubEmulatorHost
    ? new pubsubSdk.PubSub({
        projectId,
        apiEndpoint: profile.pubsubEmulatorHost,
        // Insecure gRPC without any auth client: nothing looks for credentials.
        emulatorMode: true,
      })
    : new pubsubSdk.PubSub({ projectId });

  const bigqueryTarget = describe('BigQuery', projectId, bigqueryUrl?.host, () =>
    bigqueryUrl && isLoopbackHost(bigqueryUrl.hostname)
      ? `Start the test BigQuery server, or fix bigqueryEndpoint (${profile.bigqueryEndpoint}) in the profile.`
      : 'Check network access to BigQuery and your credentials (`gcloud auth application-default login`).',
  );
  const bigquery = new bigquerySdk.BigQuery({
    projectId,
    autoRetry: false,
    ...(profile.bigqueryLocation ? { location: profile.bigqueryLocation } : {}),
    ...(bigqueryUrl ? { apiEndpoint: profile.bigqueryEndpoint!.replace(/\/+$/, '') } : {}),
    ...(bigqueryUrl && isLoopbackHost(bigqueryUrl.hostname)
      ? { authClient: new authSdk.PassThroughClient() }
      : {}),
  });

  const policy = (target: Target) =>
    createPolicy({ name: target.name, hint: target.hint, timeoutMs });
  const documents = new FirestoreDocuments(
    firestore,
    firestoreSdk,
    policy(firestoreTarget),
    firestoreTarget,
    timeoutMs,
  );
  const warehouse = new BigQueryWarehouse(
    bigquery,
    bigquerySdk,
    policy(bigqueryTarget),
    bigqueryTarget,
    timeoutMs,
    profile.bigqueryLocation,
  );
  const bus = new PubSubBus(
    pubsub,
    policy(pubsubTarget),
    pubsubTarget,
    timeoutMs,
    Boolean(profile.pubsubEmulatorHost),
  );
  const endpoints = new HttpEndpoints(timeoutMs);

  let closed: Promise<void> | undefined;
  return {
    kind: 'gcp',
    documents,
    warehouse,
    bus,
    endpoints,
    async ping(backend: PingResult['backend']): Promise<string> {
      switch (backend) {
        case 'documents':
          await documents.get('_pipectl_ping/ping');
          return firestoreTarget.name;
        case 'warehouse':
          await warehouse.ping();
          return bigqueryTarget.name;
        case 'bus':
          await bus.ping();
          return pubsubTarget.name;
        case 'endpoints': {
          const urls = Object.values(profile.endpoints ?? {}).filter(
            (url): url is string => typeof url === 'string',
          );
          if (urls.length === 0) return 'no endpoints configured';
          await Promise.all(urls.map((url) => endpoints.ping(url)));
          return urls.map((url) => new URL(url).origin).join(', ');
        }
      }
    },
    close() {
      closed ??= Promise.allSettled([documents.close(), bus.close()]).then(() => undefined);
      return closed;
    },
  };
}

function describe(
  service: string,
  projectId: string,
  host: string | undefined,
  hint: () => string,
): Target {
  const where = host ? `${service} at ${host}` : service;
  return { name: `${where} (project ${projectId})`, hint: hint() };
}

function emulatorHint(kind: 'firestore' | 'pubsub', host: string | undefined): string {
  if (!host) {
    return 'Check network access to Google Cloud and your credentials (`gcloud auth application-default login`).';
  }
  return `Start the emulator with \`gcloud emulators ${kind} start --host-port=${host}\`, or fix ${kind}EmulatorHost in the profile.`;
}

/**
 * The Firestore client lets FIRESTORE_EMULATOR_HOST override the host it is given. Set it to
 * the profile's host while the client is built (construction is synchronous), so a profile
 * that names an emulator wins over whatever the shell exports.
 */
function withEmulatorEnv<T>(variable: string, value: string | undefined, build: () => T): T {
  if (value === undefined) return build();
  const previous = process.env[variable];
  process.env[variable] = value;
  try {
    return build();
  } finally {
    if (previous === undefined) delete process.env[variable];
    else process.env[variable] = previous;
  }
}
