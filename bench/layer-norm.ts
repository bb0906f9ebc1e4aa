/**
 * LayerNormalization as onnxruntime's kernel against the lowering serialize writes (packages/graph lowering.ts), at
 * SD1.5's shapes, in one invocation:  npx tsx bench/layer-norm.ts [--threads N]
 * Each graph chains 20 normalizations and returns one sum, so the time is the kernels', not copying results out.
 * Prints one line per shape {shape, kernel_ms, lowered_ms, ratio} (ms per normalization; ratio lowered / kernel).
 */
import { parseArgs } from 'node:util';
import { Graph, Session, serialize, type HostTensor, type Value } from '@npo/graph';
import * as o from '../packages/graph/src/ops.ts';
import { seededNormal } from '../packages/graph/src/testing/gradcheck.ts';

const { values } = parseArgs({ options: { threads: { type: 'string', default: '2' } } });
const threads = Number(values.threads);
const CHAIN = 20;
const RUNS = 10;

// [rows…, normalized]: GroupNorm(32) of [2, 320, 64, 64] as groupNorm reshapes it, and a 4,096-token transformer LayerNorm
const SHAPES = [[2, 32, 40960], [2, 4096, 320], [2, 32, 2560]];

async function msPerNorm(shape: number[], lower: boolean): Promise<number> {
  const g = new Graph();
  let x: Value = g.input('x', 'float32', shape);
  const n = shape[shape.length - 1];
  const scale = g.initializer('scale', { dtype: 'float32', shape: [n], data: seededNormal(n, 1, 0.1).map((v) => 1 + v) });
  for (let k = 0; k < CHAIN; k++) x = o.layerNorm(x, scale, null, -1);
  g.output('sum', o.reduceSum(x, [...shape.keys()], false));
  const session = await Session.create(serialize(g, { lower }), { threads });
  const size = shape.reduce((a, b) => a * b, 1);
  const feeds: Record<string, HostTensor> = { x: { dtype: 'float32', shape, data: seededNormal(size, 2, 1) } };
  try {
    await session.run(feeds);
    const t0 = performance.now();
    for (let i = 0; i < RUNS; i++) await session.run(feeds);
    return (performance.now() - t0) / RUNS / CHAIN;
  } finally {
    await session.release();
  }
}

for (const shape of SHAPES) {
  const kernel = await msPerNorm(shape, false);
  const lowered = await msPerNorm(shape, true);
  console.log(JSON.stringify({ bench: 'layer_norm', shape, threads, kernel_ms: +kernel.toFixed(3), lowered_ms: +lowered.toFixed(3), ratio: +(lowered / kernel).toFixed(3) }));
}
