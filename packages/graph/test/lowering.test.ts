// Ops written as other ONNX ops because onnxruntime's kernel for them is slower than their math (lowering.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema } from 'onnx-buf';
import { Graph } from '../src/graph.ts';
import * as o from '../src/ops.ts';
import { serialize } from '../src/serialize.ts';
import { normal, runOnce } from './helpers.ts';

const opTypes = (g: Graph) => fromBinary(ModelProtoSchema, serialize(g)).graph!.node.map((n) => n.opType);

/** LayerNormalization in float64 over the trailing dims from `axis`: y, mean, 1/std. */
function reference(x: Float32Array, shape: number[], axis: number, scale: Float32Array, bias: Float32Array | null, eps: number) {
  const inner = shape.slice(axis).reduce((a, b) => a * b, 1);
  const rows = x.length / inner;
  const y = new Float64Array(x.length), mean = new Float64Array(rows), inv = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let i = 0; i < inner; i++) m += x[r * inner + i];
    m /= inner;
    let v = 0;
    for (let i = 0; i < inner; i++) v += (x[r * inner + i] - m) ** 2;
    const s = 1 / Math.sqrt(v / inner + eps);
    mean[r] = m;
    inv[r] = s;
    for (let i = 0; i < inner; i++) y[r * inner + i] = (x[r * inner + i] - m) * s * scale[i % scale.length] + (bias ? bias[i % bias.length] : 0);
  }
  return { y, mean, inv };
}

const close = (actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string) => {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= tol * (1 + Math.abs(expected[i])), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
};

for (const { axis, bias, what } of [
  { axis: -1, bias: true, what: 'last axis, scale and bias' },
  { axis: 1, bias: false, what: 'from axis 1, scale only' },
]) {
  test(`float32 LayerNormalization (${what}) is written as reductions and elementwise ops, with the kernel's three outputs`, async () => {
    const shape = [3, 4, 50];
    const g = new Graph();
    const x = g.input('x', 'float32', shape);
    const normShape = shape.slice(axis < 0 ? shape.length + axis : axis);
    const s = g.input('s', 'float32', normShape);
    const b = bias ? g.input('b', 'float32', normShape) : null;
    const [y, mean, inv] = o.layerNormFull(x, s, b, axis, 1e-5);
    g.output('y', y);
    g.output('mean', mean);
    g.output('inv', inv);
    const ops = opTypes(g);
    assert.ok(!ops.includes('LayerNormalization'), ops.join());
    assert.equal(ops.filter((t) => t === 'ReduceMean').length, 2);
    // an offset far from zero: the variance is taken around the mean, not as E[x²] − E[x]²
    const xs = normal(shape, 1);
    xs.data = (xs.data as Float32Array).map((v) => 300 + v);
    const feeds = { x: xs, s: normal(normShape, 2), ...(bias ? { b: normal(normShape, 3) } : {}) };
    const out = await runOnce(g, feeds);
    const ref = reference(xs.data as Float32Array, shape, axis < 0 ? shape.length + axis : axis, feeds.s.data as Float32Array, bias ? (feeds as { b: { data: Float32Array } }).b.data : null, 1e-5);
    assert.deepEqual(out.mean.shape, axis < 0 ? [3, 4, 1] : [3, 1, 1]);
    close(out.y.data as Float32Array, ref.y, 2e-4, 'y');
    close(out.mean.data as Float32Array, ref.mean, 1e-6, 'mean');
    close(out.inv.data as Float32Array, ref.inv, 1e-4, 'inv');
  });
}

test('groupNorm writes no multiply by its unit scale; a float16 LayerNormalization keeps onnxruntime\'s kernel', async () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [2, 8, 4, 4]);
  g.output('y', o.groupNorm(x, 4, null, null));
  assert.deepEqual(opTypes(g).filter((t) => t === 'Mul').length, 2, 'the square and the 1/std multiply only');
  const h = new Graph();
  const x16 = h.input('x', 'float16', [2, 6]);
  h.output('y', o.layerNorm(x16, h.input('s', 'float16', [6]), null));
  assert.ok(opTypes(h).includes('LayerNormalization'));
});
