import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Quantity } from '../src/verify/compare.ts';

/** Runs `fn` with a fresh temporary folder, removed afterwards whatever happens. */
export function withWork<T>(prefix: string, fn: (work: string) => Promise<T>): Promise<T> {
  const work = mkdtempSync(join(tmpdir(), prefix));
  return fn(work).finally(() => rmSync(work, { recursive: true, force: true }));
}

/** A reference check's verdict: every `names` quantity and some quantity under each of `prefixes` present, all within tolerance. */
export function assertReference(qs: Quantity[], o: { names: string[]; prefixes?: string[] }): void {
  const names = qs.map((q) => q.name);
  for (const expected of o.names) assert.ok(names.includes(expected), `missing quantity ${expected}`);
  for (const prefix of o.prefixes ?? []) assert.ok(names.some((n) => n.startsWith(prefix)), `missing quantity ${prefix}`);
  const bad = qs.filter((q) => !q.ok);
  assert.deepEqual(bad, [], `out of tolerance:\n${bad.map((q) => JSON.stringify(q)).join('\n')}`);
}
