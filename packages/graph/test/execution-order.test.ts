// onnxruntime does not run a graph in the order it was built: its default order is a reverse depth-first walk from
// the graph's sinks. serialize lists nodes so that this walk follows the build order, and the autodiff fences each
// recomputed region behind the gradients that left the one before; together they keep the activation peak that
// graphMemory (and the memory estimate) computes for the build order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { add, grad, Graph, graphMemory, matmul, mul, reduceSum, reshape, transpose, type HostTensor, type Value } from '../src/index.ts';
import { scaledDotProductAttention } from '../src/attention.ts';
import { onnxruntimeExecutionOrder } from '../src/testing/execution-order.ts';
import { seededNormal } from '../src/testing/gradcheck.ts';

const [N, C, LAYERS, ROWS] = [256, 16, 4, 32];

/** LAYERS checkpointed attention blocks, each with query-chunked, checkpointed attention inside (as the `blocks` plan). */
function checkpointedStack() {
  const g = new Graph();
  let x = g.input('x', 'float32', [1, N, C]);
  const params: Value[] = [];
  const feeds: Record<string, HostTensor> = { x: { dtype: 'float32', shape: [1, N, C], data: seededNormal(N * C, 1) } };
  for (let l = 0; l < LAYERS; l++) {
    const w = ['q', 'k', 'v', 'o'].map((n, j) => {
      const name = `w${n}${l}`;
      feeds[name] = { dtype: 'float32', shape: [C, C], data: seededNormal(C * C, 10 * l + j + 2).map((v) => v * 0.3) };
      return g.input(name, 'float32', [C, C]);
    });
    params.push(...w);
    const input = x;
    x = g.checkpoint(() => {
      const heads = (v: Value) => reshape(v, [1, 1, N, C]);
      const q = heads(matmul(input, w[0]));
      const kT = transpose(heads(matmul(input, w[1])), [0, 1, 3, 2]);
      const v = heads(matmul(input, w[2]));
      const out = scaledDotProductAttention(q, kT, v, { scale: 0.35, chunkElements: ROWS * N, checkpointElements: 0 });
      return add(input, matmul(reshape(out, [1, N, C]), w[3]));
    });
  }
  const grads = grad(reduceSum(mul(x, x), [0, 1, 2], false), params);
  grads.forEach((d, i) => g.output(`d_${params[i].name}`, d));
  return { g, feeds };
}

test("onnxruntime's execution order keeps the build order's activation peak of a checkpointed, chunked step", async () => {
  const { g, feeds } = checkpointedStack();
  const built = graphMemory(g).peakActivationBytes;
  const ran = graphMemory(g, await onnxruntimeExecutionOrder(g, feeds)).peakActivationBytes;
  const listedInBuildOrder = graphMemory(g, await onnxruntimeExecutionOrder(g, feeds, { buildOrderListed: true })).peakActivationBytes;
  assert.ok(ran <= built * 1.05, `peak under onnxruntime's order ${ran} B, build order ${built} B`);
  // the control: listed in build order, onnxruntime's walk keeps far more (the test can tell the two apart)
  assert.ok(listedInBuildOrder > ran * 1.1, `listed in build order: ${listedInBuildOrder} B, reversed: ${ran} B`);
});
