import type { Prisma } from './generated/prisma/client.ts';

// Postgres jsonb refuses a NUL (\u0000) and a lone UTF-16 surrogate anywhere in a value, and the whole write fails
// with it. Reports and errors quote what an upload contained (paths, prompts, entry names): they go through this
// first, so a hostile upload ends `invalid` with its report instead of failing to be recorded (and being retried).
const UNSTORABLE = /[\u0000\uD800-\uDFFF]/gu; // with the u flag a surrogate *pair* is one code point, so only lone ones match

/** A copy of a JSON-compatible value in which every NUL and lone surrogate, in strings and keys, is U+FFFD. */
export function storableJson(value: unknown): Prisma.InputJsonValue {
  return JSON.parse(JSON.stringify(value), (_key, v) => {
    if (typeof v === 'string') return v.replace(UNSTORABLE, '\uFFFD');
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const out: Record<string, unknown> = {};
      for (const [k, inner] of Object.entries(v)) Object.defineProperty(out, k.replace(UNSTORABLE, '\uFFFD'), { value: inner, enumerable: true, writable: true, configurable: true });
      return out;
    }
    return v;
  }) as Prisma.InputJsonValue;
}
