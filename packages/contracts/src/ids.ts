import { randomBytes } from 'node:crypto';

// Ids sort by creation time (12 hex digits of milliseconds, then randomness), so cursor pagination can order
// by id alone and a cursor is just the last id seen.
export function newId(prefix: string): string {
  const ms = Date.now().toString(16).padStart(12, '0');
  return `${prefix}_${ms}${randomBytes(8).toString('hex')}`;
}

export function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

/** Returns null for a cursor that is not one of ours (the route turns that into a validation error). */
export function decodeCursor(cursor: string): string | null {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  return /^[A-Za-z0-9_-]{1,100}$/.test(id) ? id : null;
}
