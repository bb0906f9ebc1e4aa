import { decodeCursor, encodeCursor, ValidationError, PAGE_MAX_BYTES } from '@npo/contracts';

// Keyset pagination: the cursor is the last id of the previous page. Resources page newest first over
// time-sortable ids; job events page oldest first over their bigint ids.
const invalidCursor = () => new ValidationError('cursor is not a cursor this API returned', { field: 'querystring.cursor' }, 'invalid_cursor');

export function cursorWhere(cursor: string | undefined): { id?: { lt: string } } {
  if (!cursor) return {};
  const id = decodeCursor(cursor);
  if (!id) throw invalidCursor();
  return { id: { lt: id } };
}

export function eventCursorWhere(cursor: string | undefined): { id?: { gt: bigint } } {
  if (!cursor) return {};
  const id = decodeCursor(cursor);
  if (!id || !/^\d{1,18}$/.test(id)) throw invalidCursor();
  return { id: { gt: BigInt(id) } };
}

/**
 * Fetch limit + 1 rows; the extra one only says whether there is a next page. A page also stops at PAGE_MAX_BYTES of
 * JSON (rows carry client metadata and reports), with at least one row, and the cursor continues after its last row.
 */
export function page<T extends { id: string | bigint }, U>(rows: T[], limit: number, toApi: (row: T) => U): { data: U[]; next_cursor: string | null } {
  const data: U[] = [];
  let bytes = 0;
  for (const row of rows.slice(0, limit)) {
    const item = toApi(row);
    bytes += Buffer.byteLength(JSON.stringify(item), 'utf8');
    if (data.length && bytes > PAGE_MAX_BYTES) break;
    data.push(item);
  }
  const more = rows.length > data.length;
  return { data, next_cursor: more ? encodeCursor(String(rows[data.length - 1].id)) : null };
}
