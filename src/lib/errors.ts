/**
 * The one error family every command and library function uses. Each kind maps to one exit
 * code, so a cron job or CI step can tell "bad input" from "a guard said no" from "the backend
 * is down" without parsing text.
 */

export const ExitCode = {
  ok: 0,
  failed: 1,
  badInput: 2,
  refused: 3,
  unavailable: 4,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export abstract class PipectlError extends Error {
  abstract readonly exitCode: ExitCodeValue;
  /** What the user can do next; printed on its own line under the message. */
  readonly hint: string | undefined;

  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
  }
}

/** Input the user must fix: a bad date, an unknown profile, a config key with a wrong value. */
export class UserError extends PipectlError {
  readonly exitCode = ExitCode.badInput;
}

/** A guard refused: confirmation needed, a lock is held, a batch is active. */
export class Refusal extends PipectlError {
  readonly exitCode = ExitCode.refused;
}

/** A backend could not be reached, or did not answer before its deadline. */
export class Unavailable extends PipectlError {
  readonly exitCode = ExitCode.unavailable;
}

/** The operation ran and failed, or a check found a problem. */
export class OperationFailed extends PipectlError {
  readonly exitCode = ExitCode.failed;
}

/** A conditional write lost: the document exists, is missing, or changed underneath us. */
export class PreconditionFailed extends OperationFailed {
  constructor(
    message: string,
    readonly reason: 'already-exists' | 'not-found' | 'conflict',
  ) {
    super(message);
  }
}

export function isPipectlError(error: unknown): error is PipectlError {
  return error instanceof PipectlError;
}

export function exitCodeOf(error: unknown): ExitCodeValue {
  return isPipectlError(error) ? error.exitCode : ExitCode.failed;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
