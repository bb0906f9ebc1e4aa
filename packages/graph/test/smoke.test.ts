import { test } from 'node:test';
import * as o from '../src/ops.ts';
import { assertGradients } from '../src/testing/gradcheck.ts';

test('smoke: matmul + add + sigmoid', async () => {
  await assertGradients({
    inputs: [{ name: 'a', shape: [2, 3] }, { name: 'b', shape: [3, 4] }, { name: 'c', shape: [4] }],
    build: (g, [a, b, c]) => o.sigmoid(o.add(o.matmul(a, b), c)),
  });
});

test('smoke: conv stride 2 pad 1 groups 2', async () => {
  await assertGradients({
    inputs: [{ name: 'x', shape: [2, 4, 5, 5] }, { name: 'w', shape: [6, 2, 3, 3] }, { name: 'b', shape: [6] }],
    build: (g, [x, w, b]) => o.conv(x, w, b, { strides: [2, 2], pads: [1, 1, 1, 1], group: 2 }),
  });
});

test('smoke: groupnorm + softmax + gather', async () => {
  await assertGradients({
    inputs: [{ name: 'x', shape: [2, 4, 3, 3] }, { name: 'w', shape: [4] }, { name: 'b', shape: [4] }],
    build: (g, [x, w, b]) => o.softmax(o.groupNorm(x, 2, w, b, 1e-5), 1),
  });
});
