// The reverse-mode engine itself: fan-in, unreachable wrt, missing rules, NO_GRADIENT, pruning, and that the checker can fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grad, GradientError } from '../src/autodiff.ts';
import { Graph } from '../src/graph.ts';
import * as o from '../src/ops.ts';
import { GRAD_RULES } from '../src/rules.ts';
import { SHAPE_RULES } from '../src/shape-inference.ts';
import { serialize, liveNodes } from '../src/serialize.ts';
import { assertGradients } from '../src/testing/gradcheck.ts';
import { awayFromZero, f32, runOnce } from './helpers.ts';

test('fan-in: a value used by several nodes receives the summed gradient', async () => {
  // loss = Σ x·x + 3x + exp(x) → dloss/dx = 2x + 3 + exp(x)
  const g = new Graph();
  const x = g.input('x', 'float32', [4]);
  const loss = o.reduceSum(o.add(o.add(o.mul(x, x), o.mul(x, 3)), o.exp(x)));
  const [dx] = grad(loss, [x]);
  g.output('dx', dx);
  const xs = [-1, 0, 0.5, 2];
  const res = await runOnce(g, { x: f32([4], xs) });
  xs.forEach((v, i) => assert.ok(Math.abs((res.dx.data[i] as number) - (2 * v + 3 + Math.exp(v))) < 1e-5, `dx[${i}]`));
  await assertGradients({ inputs: [{ name: 'x', shape: [3, 2] }], build: (g, [x]) => o.mul(o.add(o.mul(x, x), o.sigmoid(x)), o.tanh(x)) });
});

test('a requested value the loss does not depend on gets zeros of its shape', async () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [2, 3]);
  const unused = g.input('unused', 'float32', [5]);
  const [dx, du] = grad(o.reduceSum(o.mul(x, 2)), [x, unused]);
  assert.deepEqual(du.shape, [5]);
  g.output('dx', dx);
  g.output('du', du);
  const res = await runOnce(g, { x: f32([2, 3], [1, 2, 3, 4, 5, 6]), unused: f32([5], [1, 1, 1, 1, 1]) });
  assert.deepEqual([...res.du.data], [0, 0, 0, 0, 0]);
  assert.deepEqual([...res.dx.data], [2, 2, 2, 2, 2, 2]);
});

test('a loss that depends on none of the requested values fails clearly', () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [2]);
  const y = g.input('y', 'float32', [2]);
  assert.throws(() => grad(o.reduceSum(y), [x]), (e: Error) => e instanceof GradientError && /does not depend/.test(e.message));
});

test('a missing gradient rule fails naming the op and the node', () => {
  SHAPE_RULES.FakeWobble = ([x]) => [{ dtype: x!.dtype, shape: [...x!.shape] }];
  try {
    const g = new Graph();
    const x = g.input('x', 'float32', [3]);
    const y = g.node('FakeWobble', [x], {}, { name: 'wobble_here' })[0];
    assert.throws(
      () => grad(o.reduceSum(y), [x]),
      (e: Error) => e instanceof GradientError && /FakeWobble/.test(e.message) && /wobble_here/.test(e.message),
    );
  } finally {
    delete SHAPE_RULES.FakeWobble;
  }
});

test('NO_GRADIENT ops stop the flow (sign and floor act as constants)', async () => {
  // d/dx [x·sign(x) + floor(x)] with sign and floor held constant = sign(x)
  await assertGradients({ inputs: [{ name: 'x', shape: [2, 4], transform: awayFromZero }], build: (g, [x]) => o.add(o.mul(x, o.sign(x)), g.node('Floor', [o.mul(x, 0.001)])[0]) });
  const g = new Graph();
  const x = g.input('x', 'float32', [3]);
  const [dx] = grad(o.reduceSum(o.mul(x, o.sign(x))), [x]);
  g.output('dx', dx);
  const res = await runOnce(g, { x: f32([3], [-2, 0.5, 3]) });
  assert.deepEqual([...res.dx.data], [-1, 1, 1]);
});

test('integer paths carry no gradient: cast to int64 and back contributes nothing', async () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [3]);
  const rounded = o.cast(o.cast(o.mul(x, 10), 'int64'), 'float32');
  const [dx] = grad(o.reduceSum(o.add(o.mul(rounded, x), x)), [x]);
  g.output('dx', dx);
  const res = await runOnce(g, { x: f32([3], [0.25, 1.5, -0.75]) });
  // d/dx[r·x + x] with r held constant = r + 1
  assert.deepEqual([...res.dx.data], [3, 16, -6]);
});

test('only nodes needed by a requested gradient are kept in the model', () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [3]);
  const w = g.input('w', 'float32', [3]);
  const loss = o.reduceSum(o.mul(o.exp(x), w));
  const [dw] = grad(loss, [w]);
  g.output('dw', dw);
  const live = liveNodes(g).map((n) => n.op);
  assert.ok(!live.includes('ReduceSum'), `the loss itself is not needed for dw: ${live}`);
  assert.ok(live.includes('Exp'));
  assert.ok(serialize(g).byteLength > 0);
});

test('the gradient checker rejects a wrong rule', async () => {
  const original = GRAD_RULES.Tanh;
  GRAD_RULES.Tanh = (c) => [o.mul(original(c)[0]!, 1.05)];
  try {
    await assert.rejects(assertGradients({ inputs: [{ name: 'x', shape: [3, 3] }], build: (g, [x]) => o.tanh(x) }), /gradient check failed/);
  } finally {
    GRAD_RULES.Tanh = original;
  }
});

test('gradients w.r.t. an intermediate value, and max/min ties split evenly as in torch', async () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [3]);
  const y = g.input('y', 'float32', [3]);
  const hidden = o.mul(x, 2);
  const loss = o.reduceSum(o.add(o.mul(o.max(hidden, y), 3), o.min(hidden, y)));
  const [dh, dx, dy] = grad(loss, [hidden, x, y]);
  g.output('dh', dh);
  g.output('dx', dx);
  g.output('dy', dy);
  // hidden = [2, 4, -2] vs y = [2, 1, 0]: a tie, a win for hidden, a win for y.
  const res = await runOnce(g, { x: f32([3], [1, 2, -1]), y: f32([3], [2, 1, 0]) });
  assert.deepEqual([...res.dh.data], [2, 3, 1]);
  assert.deepEqual([...res.dx.data], [4, 6, 2]);
  assert.deepEqual([...res.dy.data], [2, 1, 3]);
});

test('gather accepts int32 indices in the backward too', async () => {
  await assertGradients({
    inputs: [{ name: 'x', shape: [4, 3] }, { name: 'i', shape: [3], dtype: 'int64', data: BigInt64Array.from([2n, 2n, 0n]) }],
    build: (g, [x, i]) => o.gather(x, o.cast(i, 'int32'), 0),
  });
});
