// End to end: gradients through conv + groupNorm + attention + LoRA, then 50 AdamW steps each run as one compiled graph.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HostTensor } from '../src/dtype.ts';
import { Graph, type Value } from '../src/graph.ts';
import { Session } from '../src/runner.ts';
import { serialize } from '../src/serialize.ts';
import { assertGradients, seededNormal } from '../src/testing/gradcheck.ts';
import { forward, frozenWeights, NET, trainableInit, trainingStep } from './composed-net.ts';
import { f32, runOnce } from './helpers.ts';

const { n, cin, h, w } = NET;
const x = f32([n, cin, h, w], seededNormal(n * cin * h * w, 77));

test('gradients w.r.t. LoRA A/B, a conv weight and the input match finite differences', async () => {
  const frozen = frozenWeights();
  const trainable = trainableInit();
  const checked = ['to_q.lora_A.weight', 'to_q.lora_B.weight', 'to_out.lora_A.weight', 'to_v.lora_B.weight', 'conv_in.weight'];
  await assertGradients({
    inputs: [{ name: 'x', shape: x.shape, data: x.data as Float32Array }, ...checked.map((k) => ({ name: k, shape: (frozen[k] ?? trainable[k]).shape, data: (frozen[k] ?? trainable[k]).data as Float32Array }))],
    build: (g: Graph, [xv, ...vals]: Value[]) => {
      const p: Record<string, Value> = {};
      checked.forEach((k, i) => (p[k] = vals[i]));
      for (const [k, t] of Object.entries({ ...frozen, ...trainable })) if (!p[k]) p[k] = g.initializer(k, t);
      return forward(xv, p);
    },
    maxElements: 16,
    step: 5e-3,
  });
});

test('50 AdamW steps, each one session.run of the compiled step, fit a teacher target', async () => {
  const frozen = frozenWeights();
  // The target comes from the same network with other trainable values, so the student can reach it.
  const teacher = trainableInit(100, 0.3);
  const tg = new Graph();
  const tp: Record<string, Value> = {};
  for (const [k, t] of Object.entries({ ...frozen, ...teacher })) tp[k] = tg.initializer(k, t);
  tg.output('y', forward(tg.input('x', 'float32', x.shape), tp));
  const target = (await runOnce(tg, { x })).y;

  let state: Record<string, HostTensor> = {};
  const init = trainableInit();
  const names = Object.keys(init);
  for (const k of names) {
    state[k] = init[k];
    state[`m.${k}`] = f32(init[k].shape, new Float32Array(init[k].data.length));
    state[`v.${k}`] = f32(init[k].shape, new Float32Array(init[k].data.length));
  }
  const session = await Session.create(serialize(trainingStep(frozen, init, { maxNorm: 0.25, weightDecay: 1e-2 })), { threads: 2 });
  const losses: number[] = [];
  const norms: number[] = [];
  for (let step = 1; step <= 50; step++) {
    const res = await session.run({ x, target, step: f32([], [step]), lr: f32([], [0.03]), ...state });
    losses.push(res.loss.data[0] as number);
    norms.push(res.grad_norm.data[0] as number);
    const next: Record<string, HostTensor> = {};
    for (const k of names) {
      next[k] = res[`new.${k}`];
      next[`m.${k}`] = res[`new_m.${k}`];
      next[`v.${k}`] = res[`new_v.${k}`];
    }
    state = next;
  }
  await session.release();
  const [first, last] = [losses[0], losses[losses.length - 1]];
  const rises = losses.slice(1).filter((l, i) => l > losses[i]).length;
  assert.ok(losses.every(Number.isFinite));
  assert.ok(last < 0.5 * first, `loss ${first} → ${last}`);
  assert.ok(rises <= 10, `loss rose on ${rises} of 49 steps: ${losses.map((l) => l.toFixed(4)).join(' ')}`);
  assert.ok(norms.some((v) => v > 0.25), 'clipping was exercised (some pre-clip norm above max_norm)');
  for (const k of names) assert.notDeepEqual([...state[k].data], [...init[k].data], `${k} was updated`);
});
