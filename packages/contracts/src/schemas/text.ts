import { Type } from 'typebox';

// What the API accepts as text and as ids, in one place. Postgres text and jsonb cannot hold a NUL, and a lone UTF-16
// surrogate has no UTF-8 encoding (jsonb refuses it too): strings that reach storage must be free of both, or an insert
// fails after the request was accepted (a 500, or an upload stored without its row).

/** No NUL and no lone surrogate. AJV compiles patterns with the `u` flag, so a surrogate pair is one code point above U+FFFF and passes. */
export const SAFE_TEXT_PATTERN = '^[^\\u0000\\uD800-\\uDFFF]*$';
const safeText = new RegExp(SAFE_TEXT_PATTERN, 'u');

export function isSafeText(s: string): boolean {
  return safeText.test(s);
}

/** Why `s` cannot be stored, or null. */
export function textProblem(s: string): string | null {
  if (s.includes('\0')) return 'contains a NUL byte';
  if (!safeText.test(s)) return 'contains a lone UTF-16 surrogate (not valid Unicode)';
  return null;
}

export const SafeText = (opts: { minLength?: number; maxLength: number; description?: string }) => Type.String({ ...opts, pattern: SAFE_TEXT_PATTERN });

/** Our ids (`job_…`, `ds_…`, `mdl_…`) and built-in model names (`tiny-sd`). */
export const ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$';
export const ResourceId = (description?: string) =>
  Type.String({ minLength: 1, maxLength: 100, pattern: ID_PATTERN, ...(description ? { description } : {}) });

/** Postgres `integer`: steps, seeds and other counters the database stores as int4. */
export const INT32_MAX = 2147483647;

/** An Idempotency-Key: printable ASCII without spaces (it is echoed in errors and stored). */
export const IDEMPOTENCY_KEY_PATTERN = '^[\\x21-\\x7E]{1,255}$';

/** Names of uploads and of what they register: the `name` form field, or the file's name when none is given. */
export const NAME_MAX_LENGTH = 200;

/** `s` cut to at most `max` code points (never between the halves of a surrogate pair). */
export function truncateText(s: string, max: number): string {
  return s.length <= max ? s : Array.from(s).slice(0, max).join('');
}

/**
 * The first problem with a multipart upload's text, checked before any byte is stored: its fields and file name
 * end up in Postgres (the name column) and a refused insert would leave the stored upload behind.
 */
export function uploadFormProblem(filename: string, fields: Record<string, string | undefined>): { field: string; message: string } | null {
  const fileWhy = textProblem(filename);
  if (fileWhy) return { field: 'file', message: `the file name ${fileWhy}` };
  for (const [name, value] of Object.entries(fields)) {
    const why = value === undefined ? null : textProblem(value);
    if (why) return { field: name, message: `form field "${name}" ${why}` };
  }
  if ((fields.name?.length ?? 0) > NAME_MAX_LENGTH) return { field: 'name', message: `form field "name" is longer than ${NAME_MAX_LENGTH} characters` };
  return null;
}
