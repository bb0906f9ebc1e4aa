// Query-chunked attention with checkpointed chunks (their own backward: attention.ts chunkBackward), and checkpoint
// regions in general: finite-difference gradients, and equality with the plain (unchunked, kept-activation) graph,
// differentiated op by op, under onnxruntime's full optimization.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grad, Graph, layerNorm, mul, reduceSum, serialize, Session, split, tanh, type HostTensor, type Value } from '../src/index.ts';
import { scaledDotProductAttention } from '../src/attention.ts';
import { assertGradients, seededNormal } from '../src/testing/gradcheck.ts';

const [B, H, N, M, D] = [2, 2, 7, 5, 3];
// 3 rows per chunk: chunks of 3, 3 and 1 query rows (N = 7 is not a multiple), each one a checkpoint region.
const chunked = { scale: 0.6, chunkElements: B * H * 3 * M, checkpointElements: 0 };

test('chunked, checkpointed attention: finite-difference gradients of q, kᵀ and v (N = 7, chunks of 3)', async () => {
  await assertGradients({
    inputs: [{ name: 'q', shape: [B, H, N, D] }, { name: 'kT', shape: [B, H, D, M] }, { name: 'v', shape: [B, H, M, D] }],
    build: (g, [q, kT, v]) => {
      const out = scaledDotProductAttention(q, kT, v, chunked);
      assert.equal(g.checkpoints.length, 3);
      return out;
    },
  });
});

test('chunked, checkpointed attention with a per-row mask: finite-difference gradients', async () => {
  await assertGradients({
    inputs: [{ name: 'q', shape: [1, H, N, D] }, { name: 'kT', shape: [1, H, D, M] }, { name: 'v', shape: [1, H, M, D] }, { name: 'mask', shape: [1, 1, N, M], differentiate: false }],
    build: (g, [q, kT, v, mask]) => scaledDotProductAttention(q, kT, v, { ...chunked, chunkElements: H * 3 * M, mask }),
  });
});

test('chunked, checkpointed attention: finite-difference gradient of an additive mask too (broadcast over heads)', async () => {
  await assertGradients({
    inputs: [{ name: 'q', shape: [B, H, N, D] }, { name: 'kT', shape: [B, H, D, M] }, { name: 'v', shape: [B, H, M, D] }, { name: 'mask', shape: [B, 1, N, M] }],
    build: (g, [q, kT, v, mask]) => scaledDotProductAttention(q, kT, v, { ...chunked, mask }),
  });
});

test('a checkpoint region with multi-output ops (Split, LayerNormalization) inside: finite-difference gradients', async () => {
  await assertGradients({
    inputs: [{ name: 'x', shape: [3, 8] }, { name: 'w', shape: [4] }, { name: 'b', shape: [4] }],
    build: (g, [x, w, b]) => g.checkpoint(() => {
      const [lo, hi] = split(x, [4, 4], 1);
      return mul(tanh(layerNorm(lo, w, b, -1, 1e-5)), hi);
    }),
  });
});

async function gradients(build: (q: Value, kT: Value, v: Value) => Value, feeds: Record<string, HostTensor>) {
  const g = new Graph();
  const q = g.input('q', 'float32', [B, H, N, D]);
  const kT = g.input('kT', 'float32', [B, H, D, M]);
  const v = g.input('v', 'float32', [B, H, M, D]);
  const r = g.input('r', 'float32', [B, H, N, D]);
  const out = build(q, kT, v);
  const loss = reduceSum(mul(out, r));
  g.output('loss', loss);
  grad(loss, [q, kT, v]).forEach((d, i) => g.output(`d${i}`, d));
  const s = await Session.create(serialize(g), { threads: 1 });
  const res = await s.run(feeds);
  await s.release();
  return { res, g };
}

test('checkpointed chunks give the plain attention gradient at full onnxruntime optimization, and re-emit the chunks in the backward', async () => {
  const feeds: Record<string, HostTensor> = {
    q: { dtype: 'float32', shape: [B, H, N, D], data: seededNormal(B * H * N * D, 1) },
    kT: { dtype: 'float32', shape: [B, H, D, M], data: seededNormal(B * H * D * M, 2) },
    v: { dtype: 'float32', shape: [B, H, M, D], data: seededNormal(B * H * M * D, 3) },
    r: { dtype: 'float32', shape: [B, H, N, D], data: seededNormal(B * H * N * D, 4) },
  };
  const plain = await gradients((q, kT, v) => scaledDotProductAttention(q, kT, v, { scale: 0.6, chunkElements: Infinity, checkpointElements: Infinity }), feeds);
  const ours = await gradients((q, kT, v) => scaledDotProductAttention(q, kT, v, chunked), feeds);
  assert.equal(plain.g.checkpoints.length, 0);
  // 3 chunks × (MatMul, Mul, Softmax, MatMul) re-emitted under the `recompute` scope
  assert.equal(ours.g.nodes.filter((n) => n.name.startsWith('recompute') && n.op === 'Softmax').length, 3);
  // the chunks' backward reduces do ⊙ o over d, never a probability map over its M columns
  const reductions = ours.g.nodes.filter((n) => n.name.startsWith('recompute') && n.op === 'ReduceSum');
  assert.equal(reductions.length, 3);
  for (const n of reductions) assert.equal(n.inputs[0]!.shape[3], D);
  assert.equal(plain.g.nodes.filter((n) => n.op === 'ReduceSum' && n.inputs[0]!.shape[3] === M).length, 1);
  for (const k of ['loss', 'd0', 'd1', 'd2']) {
    const a = plain.res[k].data as Float32Array;
    const b = ours.res[k].data as Float32Array;
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-5 * (1 + Math.abs(a[i])), `${k}[${i}]: ${b[i]} vs ${a[i]}`);
  }
});

test('checkpointed attention chunks inside a checkpointed block: finite-difference gradients, and each chunk is recomputed once more in the block\'s backward', async () => {
  let graph: Graph | null = null;
  await assertGradients({
    inputs: [{ name: 'q', shape: [B, H, N, D] }, { name: 'kT', shape: [B, H, D, M] }, { name: 'v', shape: [B, H, M, D] }],
    build: (g, [q, kT, v]) => {
      graph = g;
      // a block: something before and after the attention, all one outer region with the 3 chunks as inner regions
      return g.checkpoint(() => tanh(scaledDotProductAttention(tanh(q), kT, v, chunked)));
    },
  });
  const g = graph!;
  assert.equal(g.checkpoints.length, 1);
  assert.equal(g.innerCheckpoints.length, 3);
  // the block's copy holds the chunks' copies, each re-emitted again when the block's backward reaches it
  assert.equal(g.nodes.filter((n) => n.name.startsWith('recompute') && n.op === 'Softmax').length, 6);
});

test('default chunks: at most 256 query rows and 2²⁴ score elements each', () => {
  const chunkRows = (b: number, n: number) => {
    const g = new Graph();
    const out = scaledDotProductAttention(g.input('q', 'float32', [b, 8, n, 40]), g.input('kT', 'float32', [b, 8, 40, n]), g.input('v', 'float32', [b, 8, n, 40]), { scale: 0.1 });
    assert.deepEqual(out.shape, [b, 8, n, 40]);
    return g.checkpoints.map((r) => r.custom!.reads[0].shape[2]);
  };
  // SD1.5 at 512 px, 1 pair: both limits agree at the 4,096-token level
  assert.deepEqual(chunkRows(2, 4096), Array(16).fill(256));
  // the 1,024-token level: 4 chunks, not one of 1,024 rows
  assert.deepEqual(chunkRows(2, 1024), Array(4).fill(256));
  // 8 pairs at 4,096 tokens: the element limit, 32 rows
  assert.deepEqual(chunkRows(16, 4096), Array(128).fill(32));
  // short sequences stay one chunk
  assert.deepEqual(chunkRows(2, 256), [256]);
});
