/**
 * What the Google adapters share: gRPC status codes, the mapping of Google errors onto the
 * pipectl error family, and how a backend names itself in messages.
 */

import { OperationFailed, PipectlError, PreconditionFailed, Unavailable } from '../../errors.js';
import { isConnectionError } from '../../resilience.js';

/** gRPC status codes, as the Google clients report them in `error.code`. */
export const Grpc = {
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** Where a backend lives and what to do when it does not answer, for error messages. */
export interface Target {
  /** `Firestore emulator at 127.0.0.1:8080`, `Firestore (project nba-props-prod)`. */
  name: string;
  hint: string;
}

export function grpcCode(error: unknown): number | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/** The message of a Google error without the client's `14 UNAVAILABLE: ` prefix. */
export function googleMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/^\d+ [A-Z_]+: /, '');
}

/**
 * Maps a gRPC failure to the error family. `subject` names what was being changed (a
 * document path) so a lost precondition says which document.
 */
export function classifyGrpc(error: unknown, target: Target, subject?: string): unknown {
  if (error instanceof PipectlError) return error;
  const what = subject ?? 'The document';
  switch (grpcCode(error)) {
    case Grpc.ALREADY_EXISTS:
      return new PreconditionFailed(`${what} already exists`, 'already-exists');
    case Grpc.NOT_FOUND:
      return new PreconditionFailed(`${what} does not exist`, 'not-found');
    case Grpc.ABORTED:
      return new PreconditionFailed(
        `${what} kept changing under concurrent writers: ${googleMessage(error)}`,
        'conflict',
      );
    case Grpc.FAILED_PRECONDITION:
      return new OperationFailed(`${target.name} refused the request: ${googleMessage(error)}`, {
        cause: error,
      });
    case Grpc.UNAVAILABLE:
    case Grpc.DEADLINE_EXCEEDED:
    case Grpc.RESOURCE_EXHAUSTED:
      return unavailable(target, error);
    case Grpc.PERMISSION_DENIED:
    case Grpc.UNAUTHENTICATED:
      return new OperationFailed(
        `${target.name} refused the credentials: ${googleMessage(error)}`,
        {
          hint: 'Run `gcloud auth application-default login`, or check the service account roles.',
          cause: error,
        },
      );
    default:
      if (isConnectionError(error)) return unavailable(target, error);
      return error;
  }
}

export function unavailable(target: Target, cause: unknown): Unavailable {
  return new Unavailable(`${target.name} is unreachable: ${googleMessage(cause)}`, {
    hint: target.hint,
    cause,
  });
}

/** True for hosts on this machine: the emulators and the test servers. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** Ask the Google clients never to look for the cloud metadata server. */
export function disableMetadataServer(): void {
  process.env.METADATA_SERVER_DETECTION = 'none';
}
