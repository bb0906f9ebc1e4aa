import { numel, type HostTensor } from '../src/dtype.ts';
import type { Graph } from '../src/graph.ts';
import { Session } from '../src/runner.ts';
import { serialize } from '../src/serialize.ts';
import { seededNormal } from '../src/testing/gradcheck.ts';

/** Serializes `g`, runs it once on CPU with `feeds`, releases the session. */
export async function runOnce(g: Graph, feeds: Record<string, HostTensor>, optimization: 'disabled' | 'all' = 'disabled'): Promise<Record<string, HostTensor>> {
  const s = await Session.create(serialize(g), { optimization, threads: 1 });
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

export const f32 = (shape: number[], data: Float32Array | number[]): HostTensor => ({ dtype: 'float32', shape, data: Float32Array.from(data) });
export const normal = (shape: number[], seed: number, scale = 1): HostTensor => f32(shape, seededNormal(numel(shape), seed, scale));

/** Input transforms that keep finite differences away from kinks and domain edges. */
export const positive = (x: number) => 0.5 + Math.abs(x);
export const awayFromZero = (x: number) => (x >= 0 ? 0.2 + x : -0.2 + x);

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
