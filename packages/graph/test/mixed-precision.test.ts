// Mixed precision at the graph level: 16-bit constants hold 16-bit bits, and attention's two matmuls in float16
// (scores, softmax and result in float32) stay close to float32 forward and backward, on CPU, where onnxruntime
// runs float16 nodes through inserted casts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { floatToBfloat16, halfToFloat, isFloat, toFloat32 } from '../src/dtype.ts';
import { Graph } from '../src/graph.ts';
import { grad } from '../src/autodiff.ts';
import { scaledDotProductAttention } from '../src/attention.ts';
import { mul, reduceSum } from '../src/ops.ts';
import { maxAbsDiff, normal, runOnce } from './helpers.ts';

test('a float16 scalar constant stores the half bits of its value (not the number truncated into a Uint16Array)', () => {
  const g = new Graph();
  const v = g.scalar(0.125, 'float16');
  const data = g.initializers.get(v.name)!.data!;
  assert.equal(data.dtype, 'float16');
  assert.equal(halfToFloat((data.data as Uint16Array)[0]), 0.125);
  const b = g.scalar(-3.5, 'bfloat16');
  assert.deepEqual(Array.from(toFloat32(g.initializers.get(b.name)!.data!)), [-3.5]);
});

test('floatToBfloat16 keeps the float32 high half, rounding to nearest even', () => {
  assert.equal(floatToBfloat16(1), 0x3f80);
  assert.equal(floatToBfloat16(1 + 2 ** -8), 0x3f80, 'a tie rounds to even (down)');
  assert.equal(floatToBfloat16(1 + 3 * 2 ** -8), 0x3f82, 'a tie rounds to even (up)');
  assert.ok(Number.isNaN(toFloat32({ dtype: 'bfloat16', shape: [1], data: Uint16Array.of(floatToBfloat16(NaN)) })[0]));
  assert.ok(isFloat('bfloat16'));
});

test('attention with compute float16: forward and gradients within float16 rounding of float32', async () => {
  const [b, h, n, m, d] = [1, 2, 6, 5, 8];
  const run = async (compute?: 'float16') => {
    const g = new Graph();
    const q = g.input('q', 'float32', [b, h, n, d]);
    const kT = g.input('kT', 'float32', [b, h, d, m]);
    const v = g.input('v', 'float32', [b, h, m, d]);
    const out = scaledDotProductAttention(q, kT, v, { scale: 1 / Math.sqrt(d), ...(compute && { compute }) });
    assert.equal(out.dtype, 'float32');
    const loss = reduceSum(mul(out, out));
    const [dq, dk, dv] = grad(loss, [q, kT, v]);
    g.output('out', out);
    g.output('dq', dq);
    g.output('dk', dk);
    g.output('dv', dv);
    const matmuls = g.nodes.filter((x) => x.op === 'MatMul');
    return { res: await runOnce(g, { q: normal([b, h, n, d], 1), kT: normal([b, h, d, m], 2), v: normal([b, h, m, d], 3) }), halfMatmuls: matmuls.filter((x) => x.inputs.every((i) => i!.dtype === 'float16')).length, matmuls: matmuls.length };
  };
  const f32 = await run();
  const f16 = await run('float16');
  assert.equal(f32.halfMatmuls, 0);
  assert.equal(f16.halfMatmuls, f16.matmuls, 'every matmul, forward and backward, runs in float16');
  // unit-normal inputs: outputs and gradients are O(1); float16 rounds each operand to 2⁻¹¹ relative
  for (const k of ['out', 'dq', 'dk', 'dv']) {
    const err = maxAbsDiff(f16.res[k].data as Float32Array, f32.res[k].data as Float32Array);
    assert.ok(err < 2e-2, `${k}: max |fp16 − fp32| = ${err}`);
    assert.ok(err > 0, `${k}: identical to float32, so float16 did not run`);
  }
});
