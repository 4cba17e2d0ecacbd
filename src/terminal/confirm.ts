/**
 * Confirmation before a write. On a terminal the operator answers a prompt (and, where the
 * profile asks for it, types the game date); anywhere else the command needs --yes, so a cron
 * job or CI step never hangs on a prompt nobody can see.
 */

import { Refusal } from '../lib/errors.js';

export interface ConfirmRequest {
  message: string;
  yes: boolean;
  /** When set, the operator must type this value (the game date on prod). */
  typed?: string;
  stdin?: NodeJS.ReadStream;
  stderr?: NodeJS.WriteStream;
}

export async function confirm(request: ConfirmRequest): Promise<void> {
  const stdin = request.stdin ?? process.stdin;
  const stderr = request.stderr ?? process.stderr;
  if (request.yes && request.typed === undefined) return;

  if (!stdin.isTTY || !stderr.isTTY) {
    if (request.yes) return;
    throw new Refusal('Confirmation needed and there is no terminal to ask on', {
      hint: 'Re-run with --yes to confirm, or --dry-run to see the plan without writing.',
    });
  }

  const prompts = await import('@inquirer/prompts');
  try {
    if (request.typed !== undefined) {
      const answer = await prompts.input(
        { message: `${request.message}\n  Type ${request.typed} to confirm:` },
        { input: stdin, output: stderr },
      );
      if (answer.trim() !== request.typed) {
        throw new Refusal(`Typed "${answer.trim()}", not ${request.typed}: nothing was changed`);
      }
      return;
    }
    const ok = await prompts.confirm(
      { message: request.message, default: false },
      { input: stdin, output: stderr },
    );
    if (!ok) throw new Refusal('Not confirmed: nothing was changed');
  } catch (error) {
    if (error instanceof Refusal) throw error;
    throw new Refusal('Cancelled: nothing was changed', { cause: error });
  }
}
