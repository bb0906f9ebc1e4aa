// One AdamW step from stored torch 1.13 gradients must reproduce torch's parameters within 2e-7.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '../src/safetensors.ts';
import { Graph } from '../src/graph.ts';
import { ADAMW_DEFAULTS, adamw } from '../src/optim.ts';
import { f32, maxAbsDiff, runOnce } from './helpers.ts';

const dir = fileURLToPath(new URL('./fixtures/adamw/', import.meta.url));

for (const direction of ['dpo', 'npo'])
  for (const optimization of ['disabled', 'all'] as const)
    test(`adamw reproduces torch's ${direction} step from the stored gradients within 2e-7 (ort optimization ${optimization})`, async () => {
      const init = readSafetensors(dir + 'lora_init.safetensors');
      const grads = readSafetensors(`${dir}${direction}/grads.safetensors`);
      const expected = readSafetensors(`${dir}${direction}/lora_after_adamw.safetensors`);
      const names = Object.keys(init).sort();
      assert.equal(names.length, 96);
      assert.deepEqual(Object.keys(expected).sort(), names);

      const g = new Graph();
      const ps = names.map((n, i) => g.input(`p${i}`, 'float32', init[n].shape));
      const gs = names.map((n, i) => g.input(`g${i}`, 'float32', init[n].shape));
      const ms = names.map((n, i) => g.input(`m${i}`, 'float32', init[n].shape));
      const vs = names.map((n, i) => g.input(`v${i}`, 'float32', init[n].shape));
      const step = g.input('step', 'float32', []);
      const lr = g.input('lr', 'float32', []);
      const out = adamw(ps, gs, ms, vs, step, lr, ADAMW_DEFAULTS);
      out.params.forEach((p, i) => g.output(`out${i}`, p));

      const feeds: Record<string, ReturnType<typeof f32>> = { step: f32([], [1]), lr: f32([], [1e-4]) };
      names.forEach((n, i) => {
        feeds[`p${i}`] = init[n];
        feeds[`g${i}`] = grads[n];
        feeds[`m${i}`] = f32(init[n].shape, new Float32Array(init[n].data.length));
        feeds[`v${i}`] = f32(init[n].shape, new Float32Array(init[n].data.length));
      });
      const res = await runOnce(g, feeds, optimization);
      let worst = 0;
      let worstName = '';
      names.forEach((n, i) => {
        const d = maxAbsDiff(res[`out${i}`].data as Float32Array, expected[n].data as Float32Array);
        if (d > worst) [worst, worstName] = [d, n];
        // The step must actually move the parameters (≈ lr per element), or the comparison proves nothing.
        assert.ok(maxAbsDiff(init[n].data as Float32Array, expected[n].data as Float32Array) > 5e-5, `${n} did not move`);
      });
      assert.ok(worst <= 2e-7, `max abs diff ${worst} at ${worstName}`);
    });
