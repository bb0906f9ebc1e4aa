import { textProblem } from './schemas/text.ts';

// Job `metadata` is free-form JSON the client stores with a job. Free-form still has bounds: it is stored as jsonb
// (no NUL, no lone surrogate, bounded nesting) and returned with every job read and list (bounded size).
export const METADATA_LIMITS = { maxBytes: 16 * 1024, maxDepth: 8 } as const;

/** The first problem with `metadata` as `{ field, message }` (field in `body.metadata.a.b` form), or null. */
export function metadataProblem(metadata: unknown): { field: string; message: string; code: string } | null {
  // walk first: the size check stringifies, and a hostile value may nest thousands deep
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: metadata, path: 'body.metadata', depth: 0 }];
  while (stack.length) {
    const { value, path, depth } = stack.pop()!;
    if (typeof value === 'string') {
      const why = textProblem(value);
      if (why) return { field: path, code: 'invalid_metadata', message: `${path} ${why}` };
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth >= METADATA_LIMITS.maxDepth) {
      return { field: path, code: 'invalid_metadata', message: `${path} nests deeper than ${METADATA_LIMITS.maxDepth} levels; flatten the metadata` };
    }
    for (const [k, v] of Object.entries(value)) {
      const why = Array.isArray(value) ? null : textProblem(k);
      if (why) return { field: path, code: 'invalid_metadata', message: `a key of ${path} ${why}` };
      stack.push({ value: v, path: `${path}.${k}`, depth: depth + 1 });
    }
  }
  const bytes = Buffer.byteLength(JSON.stringify(metadata ?? {}), 'utf8');
  if (bytes > METADATA_LIMITS.maxBytes) {
    return { field: 'body.metadata', code: 'metadata_too_large', message: `metadata is ${bytes} bytes as JSON; the limit is ${METADATA_LIMITS.maxBytes}` };
  }
  return null;
}
