/**
 * Correlation ids follow one game date through every phase; idempotency keys let a consumer
 * drop a message it has already handled. Their shapes are part of the pipeline's contract.
 */

import { randomUUID } from 'node:crypto';

import { UserError } from './errors.js';

const CORRELATION_ID = /^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$/;

/** A given id is checked; none given means a fresh `manual-<uuid>` for operator actions. */
export function correlationId(given?: string): string {
  if (given === undefined) return `manual-${randomUUID()}`;
  if (!CORRELATION_ID.test(given)) {
    throw new UserError(`Correlation id "${given}" is not valid`, {
      hint: 'Use up to 128 letters, digits, ".", "_" or "-", starting with a letter or digit.',
    });
  }
  return given;
}

/** `{correlation_id}:{stage}:{game_date}[:{entity}]` */
export function idempotencyKey(
  correlation: string,
  stage: string,
  gameDate: string,
  entity?: string,
): string {
  const base = `${correlation}:${stage}:${gameDate}`;
  return entity === undefined ? base : `${base}:${entity}`;
}
