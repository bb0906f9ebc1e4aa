// Static shape inference: build-time errors name the op, operands and values; inferred shapes match onnxruntime's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, ShapeError, type Value } from '../src/graph.ts';
import * as o from '../src/ops.ts';
import { broadcastShapes } from '../src/shape-inference.ts';
import { normal, runOnce } from './helpers.ts';

const shapeError = (...parts: (string | RegExp)[]) => (e: Error) => {
  assert.ok(e instanceof ShapeError, `expected ShapeError, got ${e.name}: ${e.message}`);
  for (const p of parts) assert.ok(typeof p === 'string' ? e.message.includes(p) : p.test(e.message), `'${e.message}' lacks ${p}`);
  return true;
};

test('broadcastShapes follows numpy rules', () => {
  assert.deepEqual(broadcastShapes([2, 1, 4], [3, 1]), [2, 3, 4]);
  assert.deepEqual(broadcastShapes([], [5]), [5]);
  assert.deepEqual(broadcastShapes([1], [3, 1], [2, 1, 4]), [2, 3, 4]);
  assert.throws(() => broadcastShapes([2, 3], [4]), /do not broadcast/);
});

test('MatMul with mismatched inner dims fails at build time naming op, shapes and values', () => {
  const g = new Graph();
  const a = g.input('a', 'float32', [2, 3]);
  const b = g.input('b', 'float32', [4, 5]);
  assert.throws(() => o.matmul(a, b), shapeError('MatMul', 'a[2,3]', 'b[4,5]', '3 vs 4'));
});

test('build-time errors for the other shape rules', () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [2, 3, 8, 8]);
  const w = g.input('w', 'float32', [4, 2, 3, 3]);
  assert.throws(() => o.conv(x, w), shapeError('Conv', 'x[2,3,8,8]', 'w[4,2,3,3]', 'channels'));
  assert.throws(() => o.add(x, g.input('y', 'float32', [7])), shapeError('Add', 'do not broadcast', 'y[7]'));
  assert.throws(() => o.reshape(x, [5, 7]), shapeError('Reshape', 'cannot reshape 384'));
  assert.throws(() => o.concat([x, g.input('z', 'float32', [2, 3, 4, 4])], 1), shapeError('Concat', 'outside axis 1'));
  assert.throws(() => o.split(x, [1, 1], 1), shapeError('Split', 'does not cover'));
  assert.throws(() => o.squeeze(x, [1]), shapeError('Squeeze', 'size 3'));
  assert.throws(() => o.softmax(x, 4), shapeError('Softmax', 'out of range'));
  assert.throws(() => o.gemm(g.input('m', 'float32', [2, 3]), g.input('n', 'float32', [2, 3]), null), shapeError('Gemm', '3 vs 2'));
  assert.throws(() => o.add(x, g.input('i', 'int64', [8])), shapeError('Add', 'dtypes differ'));
  assert.throws(() => o.log(g.input('k', 'int64', [2])), shapeError('Log', 'float'));
  assert.throws(() => o.layerNorm(x, g.input('s', 'float32', [7]), null), shapeError('LayerNormalization', 's[7]', 'do not broadcast'));
  assert.throws(() => o.groupNorm(x, 2, null, null), /3 channels are not divisible into 2 groups/);
  assert.throws(() => o.linear(x, g.input('lw', 'float32', [4, 5])), /8 features/);
});

test('a name can be used only once', () => {
  const g = new Graph();
  g.input('x', 'float32', [1]);
  assert.throws(() => g.input('x', 'float32', [1]), /already has a value named 'x'/);
});

test('inferred shapes agree with what onnxruntime computes', async () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [2, 4, 7, 6]);
  const w = g.input('w', 'float32', [6, 2, 3, 3]);
  const built: [string, Value][] = [
    ['conv', o.conv(x, w, null, { strides: [2, 2], pads: [0, 1, 2, 1], group: 2, dilations: [1, 2] })],
    ['convT', o.convTranspose(x, g.input('wt', 'float32', [4, 3, 3, 3]), { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 0] })],
    ['slice', o.slice(x, [1, 3], [-3, 1], [100, -1])],
    ['gather', o.gather(x, g.ints([[1, 0, 1]].flat()), 2)],
    ['resize', o.resizeNearest(x, [1, 1, 2, 2])],
    ['pad', o.pad(x, [0, 1, 2, 3, 0, 0, 1, 1])],
    ['reduce', o.reduceMean(x, [1, -1], true)],
    ['reduce2', o.reduceSum(x, [0, 2])],
    ['transpose', o.transpose(x, [0, 2, 3, 1])],
    ['unsqueeze', o.unsqueeze(x, [0, 5])],
    ['matmul', o.matmul(g.input('a', 'float32', [2, 1, 3, 4]), g.input('b', 'float32', [5, 4, 2]))],
    ['layernorm_mean', o.layerNormFull(x, g.input('s', 'float32', [6]), null, 2)[1]],
  ];
  for (const [name, v] of built) g.output(name, v);
  const feeds = Object.fromEntries(g.inputs.map((v, i) => [v.name, normal([...v.shape], i)]));
  const res = await runOnce(g, feeds);
  for (const [name, v] of built) assert.deepEqual(res[name].shape, [...v.shape], name);
});

test('Transpose accepts permutations of rank ≥ 11 (axes compared as numbers, not strings)', () => {
  const g = new Graph();
  const shape = [2, 3, 1, 1, 1, 1, 1, 1, 1, 1, 5];
  const x = g.input('x', 'float32', shape);
  const perm = [10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  assert.deepEqual([...o.transpose(x, perm).shape], [5, 2, 3, 1, 1, 1, 1, 1, 1, 1, 1]);
  assert.throws(() => o.transpose(x, [10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 8]), shapeError('not a permutation'));
});
