// Gradients of elementwise ops, broadcasting binaries and activation composites, against finite differences.
import { test } from 'node:test';
import * as o from '../src/ops.ts';
import { assertGradients } from '../src/testing/gradcheck.ts';
import { awayFromZero, positive } from './helpers.ts';

const binaries = { add: o.add, sub: o.sub, mul: o.mul, div: o.div } as const;
const broadcastCases: [number[], number[]][] = [
  [[2, 3], [3]],
  [[2, 1, 4], [3, 1]],
  [[3, 1], [2, 1, 4]],
  [[2, 3], []],
];
for (const [name, fn] of Object.entries(binaries))
  for (const [sa, sb] of broadcastCases)
    test(`${name} [${sa}] with [${sb}]`, async () => {
      await assertGradients({
        // Divisors kept away from zero, where 1/x explodes.
        inputs: [{ name: 'a', shape: sa }, { name: 'b', shape: sb, transform: name === 'div' ? positive : undefined }],
        build: (g, [a, b]) => fn(a, b),
      });
    });

test('number operands lift to scalar constants on either side', async () => {
  await assertGradients({ inputs: [{ name: 'x', shape: [2, 3] }], build: (g, [x]) => o.div(o.sub(3, o.mul(x, 2)), o.add(5, o.mul(x, x))) });
});

const unaries: [string, (x: any) => any, ((x: number) => number) | undefined][] = [
  ['neg', o.neg, undefined],
  ['sqrt', o.sqrt, positive],
  ['reciprocal', o.reciprocal, positive],
  ['exp', o.exp, undefined],
  ['log', o.log, positive],
  ['abs', o.abs, awayFromZero],
  ['sigmoid', o.sigmoid, undefined],
  ['tanh', o.tanh, undefined],
  ['erf', o.erf, undefined],
  ['softplus', o.softplus, undefined],
  ['relu', o.relu, awayFromZero],
  ['cos', o.cos, undefined],
  ['sin', o.sin, undefined],
  ['silu', o.silu, undefined],
  ['gelu', o.gelu, undefined],
  ['quickGelu', o.quickGelu, undefined],
  ['logsigmoid', o.logsigmoid, undefined],
  ['square', o.square, undefined],
  ['identity', o.identity, undefined],
];
for (const [name, fn, transform] of unaries)
  test(`${name}`, async () => {
    await assertGradients({ inputs: [{ name: 'x', shape: [3, 4], transform }], build: (g, [x]) => fn(x) });
  });

test('logsigmoid stays finite and correct for large |x|', async () => {
  await assertGradients({ inputs: [{ name: 'x', shape: [2, 4], transform: (x) => 30 * x }], build: (g, [x]) => o.logsigmoid(x), atol: 1e-3 });
});

test('pow with a tensor exponent (gradient w.r.t. base and exponent)', async () => {
  await assertGradients({
    inputs: [{ name: 'x', shape: [2, 3], transform: positive }, { name: 'e', shape: [3], transform: (x) => 0.5 * x }],
    build: (g, [x, e]) => o.pow(x, e),
  });
});

for (const e of [2, 0.5, -1.5, 3])
  test(`pow with constant exponent ${e}`, async () => {
    await assertGradients({ inputs: [{ name: 'x', shape: [2, 3], transform: positive }], build: (g, [x]) => o.pow(x, e) });
  });

test('clip passes gradient inside [lo, hi] only', async () => {
  // Inputs kept 0.1 away from both bounds so no probe crosses a kink.
  const transform = (x: number) => {
    const v = 2 * x;
    return Math.abs(v - 0.5) < 0.1 || Math.abs(v + 1) < 0.1 ? v + 0.25 : v;
  };
  await assertGradients({ inputs: [{ name: 'x', shape: [4, 5], transform }], build: (g, [x]) => o.clip(x, -1, 0.5) });
});

test('max/min of two tensors with broadcasting (no ties)', async () => {
  await assertGradients({
    inputs: [{ name: 'a', shape: [3, 4] }, { name: 'b', shape: [4], data: Float32Array.from([0.3, -0.4, 1.1, -1.3]) }],
    build: (g, [a, b]) => o.add(o.max(a, b), o.mul(o.min(a, b), 3)),
  });
});

test('max with a constant (relu-like) away from the tie', async () => {
  await assertGradients({ inputs: [{ name: 'x', shape: [3, 4], transform: awayFromZero }], build: (g, [x]) => o.max(x, 0) });
});

test('where routes gradient to each branch by the condition', async () => {
  await assertGradients({
    inputs: [{ name: 'a', shape: [2, 3] }, { name: 'b', shape: [3] }, { name: 'c', shape: [2, 3], differentiate: false }],
    build: (g, [a, b, c]) => o.where(o.greater(c, 0), o.mul(a, a), o.exp(b)),
  });
});

test('cast float32 → float64 → float32 passes the gradient through', async () => {
  await assertGradients({ inputs: [{ name: 'x', shape: [2, 3] }], build: (g, [x]) => o.cast(o.mul(o.cast(x, 'float64'), o.cast(x, 'float64')), 'float32') });
});
