// Gradients of reductions, Softmax, LayerNormalization and groupNorm.
import { test } from 'node:test';
import * as o from '../src/ops.ts';
import { assertGradients } from '../src/testing/gradcheck.ts';

for (const [name, fn] of [['reduceSum', o.reduceSum], ['reduceMean', o.reduceMean]] as const)
  for (const keep of [false, true])
    for (const axes of [[1], [0, 2], [-1], undefined])
      test(`${name} axes ${axes ? `[${axes}]` : 'all'} keepdims ${keep}`, async () => {
        await assertGradients({ inputs: [{ name: 'x', shape: [2, 3, 4] }], build: (g, [x]) => fn(x, axes, keep) });
      });

test('reduceMax (distinct values, so no ties) on one axis and all axes', async () => {
  const data = Float32Array.from({ length: 24 }, (_, i) => ((i * 7) % 24) * 0.3 - 3);
  await assertGradients({ inputs: [{ name: 'x', shape: [2, 3, 4], data }], build: (g, [x]) => o.reduceMax(x, [1], true), step: 1e-3 });
  await assertGradients({ inputs: [{ name: 'x', shape: [2, 3, 4], data }], build: (g, [x]) => o.reduceMax(x, [0, 2]), step: 1e-3 });
  await assertGradients({ inputs: [{ name: 'x', shape: [2, 3, 4], data }], build: (g, [x]) => o.reduceMax(x), step: 1e-3 });
});

for (const axis of [0, 1, -1])
  test(`softmax on axis ${axis}`, async () => {
    await assertGradients({ inputs: [{ name: 'x', shape: [3, 4, 5] }], build: (g, [x]) => o.softmax(x, axis) });
  });

test('layerNorm on the last axis, scale and bias gradients', async () => {
  await assertGradients({
    inputs: [{ name: 'x', shape: [2, 3, 8] }, { name: 'scale', shape: [8] }, { name: 'bias', shape: [8] }],
    build: (g, [x, s, b]) => o.layerNorm(x, s, b, -1, 1e-5),
  });
});

test('layerNorm from axis 1 (normalizing [C,H,W]), scale and bias gradients', async () => {
  await assertGradients({
    inputs: [{ name: 'x', shape: [2, 3, 2, 2] }, { name: 'scale', shape: [3, 2, 2] }, { name: 'bias', shape: [3, 2, 2] }],
    build: (g, [x, s, b]) => o.layerNorm(x, s, b, 1, 1e-5),
  });
});

test('layerNorm without bias, scale broadcast over the normalized dims', async () => {
  await assertGradients({
    inputs: [{ name: 'x', shape: [4, 2, 3] }, { name: 'scale', shape: [1, 3] }],
    build: (g, [x, s]) => o.layerNorm(x, s, null, 1, 1e-5),
  });
});

for (const groups of [1, 2, 4])
  test(`groupNorm with ${groups} group(s), affine gradients`, async () => {
    await assertGradients({
      inputs: [{ name: 'x', shape: [2, 4, 3, 3] }, { name: 'w', shape: [4] }, { name: 'b', shape: [4] }],
      build: (g, [x, w, b]) => o.groupNorm(x, groups, w, b, 1e-6),
    });
  });

test('groupNorm without affine parameters on a 3-D input', async () => {
  await assertGradients({ inputs: [{ name: 'x', shape: [2, 6, 5] }], build: (g, [x]) => o.groupNorm(x, 3, null, null) });
});
