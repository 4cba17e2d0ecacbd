/**
 * Document paths as Firestore defines them: `collection/id[/collection/id...]`. Ids come from
 * outside (player names, dates), so they are checked before any backend sees them.
 */

import { UserError } from '../errors.js';

export function splitDocPath(path: string): { collection: string; id: string } {
  const parts = path.split('/');
  if (parts.length < 2 || parts.length % 2 !== 0 || parts.some((p) => !validSegment(p))) {
    throw new UserError(`"${path}" is not a document path`, {
      hint: 'A document path has an even number of non-empty segments: collection/id.',
    });
  }
  return { collection: parts.slice(0, -1).join('/'), id: parts[parts.length - 1]! };
}

export function splitCollectionPath(path: string): void {
  const parts = path.split('/');
  if (parts.length % 2 !== 1 || parts.some((p) => !validSegment(p))) {
    throw new UserError(`"${path}" is not a collection path`);
  }
}

/** Firestore refuses `.`, `..`, `__name__`-style ids and anything over 1500 bytes. */
function validSegment(segment: string): boolean {
  return (
    segment.length > 0 &&
    segment !== '.' &&
    segment !== '..' &&
    !/^__.*__$/.test(segment) &&
    Buffer.byteLength(segment) <= 1500
  );
}

/** Joins segments, rejecting any that would change the path's shape. */
export function docPath(...segments: string[]): string {
  for (const segment of segments) {
    if (segment.includes('/') || !validSegment(segment)) {
      throw new UserError(`"${segment}" cannot be used as a document id`, {
        hint: 'Ids may not contain "/", be "." or "..", or look like __name__.',
      });
    }
  }
  return segments.join('/');
}
