// Gradients of MatMul (plain, batched, broadcast batch), Gemm (every transpose combination, alpha/beta, C broadcast) and linear().
import { test } from 'node:test';
import * as o from '../src/ops.ts';
import { assertGradients } from '../src/testing/gradcheck.ts';

const matmuls: [number[], number[]][] = [
  [[3, 4], [4, 2]],
  [[2, 3, 4], [2, 4, 5]],
  [[2, 1, 3, 4], [5, 4, 2]],
  [[3, 4], [2, 4, 5]],
];
for (const [sa, sb] of matmuls)
  test(`matmul [${sa}] @ [${sb}]`, async () => {
    await assertGradients({ inputs: [{ name: 'a', shape: sa }, { name: 'b', shape: sb }], build: (g, [a, b]) => o.matmul(a, b) });
  });

for (const transA of [false, true])
  for (const transB of [false, true])
    test(`gemm transA=${transA} transB=${transB} alpha 0.7 beta 1.3, C [n]`, async () => {
      const [m, k, n] = [3, 4, 5];
      await assertGradients({
        inputs: [{ name: 'a', shape: transA ? [k, m] : [m, k] }, { name: 'b', shape: transB ? [n, k] : [k, n] }, { name: 'c', shape: [n] }],
        build: (g, [a, b, c]) => o.gemm(a, b, c, { transA, transB, alpha: 0.7, beta: 1.3 }),
      });
    });

for (const cShape of [[1, 5], [3, 5], [3, 1], []])
  test(`gemm C broadcast from [${cShape}]`, async () => {
    await assertGradients({
      inputs: [{ name: 'a', shape: [3, 4] }, { name: 'b', shape: [4, 5] }, { name: 'c', shape: cShape }],
      build: (g, [a, b, c]) => o.gemm(a, b, c, { beta: 0.5 }),
    });
  });

test('gemm without C', async () => {
  await assertGradients({ inputs: [{ name: 'a', shape: [4, 3] }, { name: 'b', shape: [5, 4] }], build: (g, [a, b]) => o.gemm(a, b, null, { transA: true, transB: true }) });
});

test('linear on rank-2 and rank-3 inputs, with and without bias', async () => {
  await assertGradients({
    inputs: [{ name: 'x', shape: [3, 4] }, { name: 'w', shape: [5, 4] }, { name: 'b', shape: [5] }],
    build: (g, [x, w, b]) => o.linear(x, w, b),
  });
  await assertGradients({
    inputs: [{ name: 'x', shape: [2, 3, 4] }, { name: 'w', shape: [5, 4] }],
    build: (g, [x, w]) => o.linear(x, w),
  });
});
