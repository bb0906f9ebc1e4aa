import { decodeCursor, encodeCursor, ValidationError } from '@npo/contracts';

// Keyset pagination over time-sortable ids, newest first: the cursor is the last id of the previous page.
export function cursorWhere(cursor: string | undefined): { id?: { lt: string } } {
  if (!cursor) return {};
  const id = decodeCursor(cursor);
  if (!id) throw new ValidationError('cursor is not a cursor this API returned', { field: 'querystring.cursor' }, 'invalid_cursor');
  return { id: { lt: id } };
}

/** Fetch limit + 1 rows; the extra one only says whether there is a next page. */
export function page<T extends { id: string }>(rows: T[], limit: number): { items: T[]; next_cursor: string | null } {
  const items = rows.slice(0, limit);
  return { items, next_cursor: rows.length > limit ? encodeCursor(items[items.length - 1].id) : null };
}
