import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { HostTensor } from '../dtype.ts';
import type { Graph } from '../graph.ts';
import { serialize, type SerializeOptions } from '../serialize.ts';
import { readOnnxruntimeProfile } from './onnxruntime-profile.ts';

/**
 * The order onnxruntime (CPU, basic optimization: node names survive) runs `g`'s nodes in, as node indices of `g` for
 * graphMemory(g, order): read from its profiler over one run. Nodes it did not run (folded into constants, fused away)
 * are placed just before the next node of the build order that it did run.
 */
export async function onnxruntimeExecutionOrder(g: Graph, feeds: Record<string, HostTensor>, opts: Pick<SerializeOptions, 'buildOrderListed'> = {}): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'npo-order-'));
  try {
    const session = await ort.InferenceSession.create(serialize(g, opts), {
      executionProviders: ['cpu'], graphOptimizationLevel: 'basic', enableMemPattern: false, intraOpNumThreads: 1,
      enableProfiling: true, profileFilePrefix: join(dir, 'profile'),
    });
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = new ort.Tensor(v.dtype as 'float32', v.data as Float32Array, v.shape);
    await session.run(ortFeeds);
    session.endProfiling();
    await session.release();
    const position = new Map<string, number>();
    readOnnxruntimeProfile(dir, 'profile').kernels.forEach((e, k) => position.set(e.node, k));
    const key: number[] = new Array(g.nodes.length);
    let next = Infinity;
    for (let i = g.nodes.length - 1; i >= 0; i--) {
      const p = position.get(g.nodes[i].name);
      if (p !== undefined) next = p;
      key[i] = p ?? next - 0.5;
    }
    return g.nodes.map((_, i) => i).sort((a, b) => key[a] - key[b] || a - b);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
