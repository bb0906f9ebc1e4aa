// Gradients of data-movement ops: Reshape, Transpose, Concat, Split, Slice, Gather, (Un)Squeeze, Expand, Resize, Pad.
import { test } from 'node:test';
import * as o from '../src/ops.ts';
import { assertGradients } from '../src/testing/gradcheck.ts';

test('reshape', async () => {
  await assertGradients({ inputs: [{ name: 'x', shape: [2, 3, 4] }], build: (g, [x]) => o.mul(o.reshape(x, [6, -1]), o.reshape(x, [6, 4])) });
});

test('transpose with an explicit perm and the default reversal', async () => {
  await assertGradients({ inputs: [{ name: 'x', shape: [2, 3, 4] }], build: (g, [x]) => o.transpose(x, [1, 2, 0]) });
  await assertGradients({ inputs: [{ name: 'x', shape: [2, 3, 4] }], build: (g, [x]) => g.node('Transpose', [x])[0] });
});

for (const axis of [0, 1, -1])
  test(`concat of three inputs on axis ${axis}`, async () => {
    const shapes = axis === 0 ? [[1, 3], [2, 3], [3, 3]] : [[2, 1], [2, 2], [2, 3]];
    await assertGradients({
      inputs: shapes.map((shape, i) => ({ name: `x${i}`, shape })),
      build: (g, xs) => o.concat(xs, axis),
    });
  });

test('split with only some outputs used', async () => {
  await assertGradients({
    inputs: [{ name: 'x', shape: [2, 7] }],
    build: (g, [x]) => {
      const [, b, c] = o.split(x, [2, 3, 2], 1);
      return o.mul(o.slice(b, [1], [0], [2]), c);
    },
  });
});

test('chunk along axis 0, all outputs used', async () => {
  await assertGradients({ inputs: [{ name: 'x', shape: [4, 3] }], build: (g, [x]) => { const [a, b] = o.chunk(x, 2, 0); return o.mul(a, b); } });
});

test('an empty slice (end before start) beside a used one: its gradient pads back to the full input', async () => {
  await assertGradients({ inputs: [{ name: 'x', shape: [3, 5] }], build: (g, [x]) => o.concat([o.slice(x, [1], [4], [2]), o.slice(x, [1], [0], [2])], 1) });
});

test('slice on several axes with negative starts and clamped ends', async () => {
  await assertGradients({ inputs: [{ name: 'x', shape: [4, 5, 6] }], build: (g, [x]) => o.slice(x, [0, 2, 1], [1, -4, -3], [3, 100, 5]) });
});

test('gather on axis 0 as an embedding lookup with repeated indices', async () => {
  await assertGradients({
    inputs: [{ name: 'table', shape: [5, 3] }, { name: 'ids', shape: [2, 3], dtype: 'int64', data: BigInt64Array.from([1n, 4n, 1n, 0n, 1n, 4n]) }],
    build: (g, [table, ids]) => o.gather(table, ids, 0),
  });
});

test('gather on axis 1 with repeated indices', async () => {
  await assertGradients({
    inputs: [{ name: 'x', shape: [2, 4, 3] }, { name: 'ids', shape: [3], dtype: 'int64', data: BigInt64Array.from([3n, 0n, 3n]) }],
    build: (g, [x, ids]) => o.gather(x, ids, 1),
  });
});

test('gather on the last axis with 2-D indices', async () => {
  await assertGradients({
    inputs: [{ name: 'x', shape: [2, 5] }, { name: 'ids', shape: [2, 2], dtype: 'int64', data: BigInt64Array.from([4n, 4n, 2n, 0n]) }],
    build: (g, [x, ids]) => o.gather(x, ids, 1),
  });
});

test('unsqueeze and squeeze', async () => {
  await assertGradients({ inputs: [{ name: 'x', shape: [2, 3] }], build: (g, [x]) => o.mul(o.unsqueeze(x, [0, -1]), 2) });
  await assertGradients({ inputs: [{ name: 'x', shape: [2, 1, 3, 1] }], build: (g, [x]) => o.squeeze(x, [1, 3]) });
});

test('expand sums the gradient over the broadcast dims', async () => {
  await assertGradients({ inputs: [{ name: 'x', shape: [3, 1] }], build: (g, [x]) => o.expand(x, [2, 3, 4]) });
});

test('resize nearest ×2 (and ×(2,3))', async () => {
  await assertGradients({ inputs: [{ name: 'x', shape: [1, 2, 3, 3] }], build: (g, [x]) => o.resizeNearest(x, [1, 1, 2, 2]) });
  await assertGradients({ inputs: [{ name: 'x', shape: [2, 1, 2, 3] }], build: (g, [x]) => o.resizeNearest(x, [1, 1, 2, 3]) });
});

test('pad with zeros', async () => {
  await assertGradients({ inputs: [{ name: 'x', shape: [2, 3, 3] }], build: (g, [x]) => o.pad(x, [0, 1, 0, 1, 2, 1]) });
});
