// AdamW, SGD and clipGradNorm graphs against float64 JS reimplementations of torch.optim / torch.nn.utils.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { numel, type HostTensor } from '../src/dtype.ts';
import { Graph } from '../src/graph.ts';
import { adamw, clipGradNorm } from '../src/optim.ts';
import { Session } from '../src/runner.ts';
import { serialize } from '../src/serialize.ts';
import { seededNormal } from '../src/testing/gradcheck.ts';
import { f32, maxAbsDiff, runOnce } from './helpers.ts';

const shapes = [[3, 4], [5], [2, 2, 2]];

/** torch.optim.AdamW, single-tensor path, in float64. */
function adamwRef(p: number[], g: number[], m: number[], v: number[], step: number, lr: number, b1: number, b2: number, eps: number, wd: number) {
  const bc1 = 1 - b1 ** step;
  const bc2Sqrt = Math.sqrt(1 - b2 ** step);
  for (let i = 0; i < p.length; i++) {
    p[i] *= 1 - lr * wd;
    m[i] = m[i] * b1 + (1 - b1) * g[i];
    v[i] = v[i] * b2 + (1 - b2) * g[i] * g[i];
    p[i] -= (lr / bc1) * (m[i] / (Math.sqrt(v[i]) / bc2Sqrt + eps));
  }
}

/** Runs an optimizer graph for several steps, feeding its outputs back, with fresh gradients each step. */
async function runSteps(
  build: (g: Graph, ps: any[], gs: any[], st: any[][], step: any, lr: any) => { params: any[]; state: any[][] },
  stateCount: number,
  reference: (p: number[][], g: number[][], st: number[][][], step: number, lr: number) => void,
  steps: number,
  lrAt: (step: number) => number,
) {
  const g = new Graph();
  const ps = shapes.map((s, i) => g.input(`p${i}`, 'float32', s));
  const gs = shapes.map((s, i) => g.input(`g${i}`, 'float32', s));
  const st = [...Array(stateCount).keys()].map((k) => shapes.map((s, i) => g.input(`s${k}_${i}`, 'float32', s)));
  const step = g.input('step', 'float32', []);
  const lr = g.input('lr', 'float32', []);
  const out = build(g, ps, gs, st, step, lr);
  out.params.forEach((p, i) => g.output(`out_p${i}`, p));
  out.state.forEach((list, k) => list.forEach((v, i) => g.output(`out_s${k}_${i}`, v)));
  const sess = await Session.create(serialize(g), { threads: 1 });
  let params: HostTensor[] = shapes.map((s, i) => f32(s, seededNormal(numel(s), 10 + i)));
  let state: HostTensor[][] = st.map(() => shapes.map((s) => f32(s, new Float32Array(numel(s)))));
  const refP = params.map((t) => [...t.data] as number[]);
  const refS = st.map(() => shapes.map((s) => new Array(numel(s)).fill(0)));
  let worst = 0;
  for (let k = 1; k <= steps; k++) {
    const grads = shapes.map((s, i) => f32(s, seededNormal(numel(s), 100 * k + i, 0.5)));
    const feeds: Record<string, HostTensor> = { step: f32([], [k]), lr: f32([], [lrAt(k)]) };
    shapes.forEach((_, i) => {
      feeds[`p${i}`] = params[i];
      feeds[`g${i}`] = grads[i];
      state.forEach((list, s) => (feeds[`s${s}_${i}`] = list[i]));
    });
    const res = await sess.run(feeds);
    params = shapes.map((_, i) => res[`out_p${i}`]);
    state = state.map((list, s) => list.map((_, i) => res[`out_s${s}_${i}`]));
    // Feed the reference the float32 lr the graph saw, so only arithmetic differs.
    reference(refP, grads.map((t) => [...t.data] as number[]), refS, k, Math.fround(lrAt(k)));
    shapes.forEach((_, i) => {
      worst = Math.max(worst, maxAbsDiff(params[i].data as Float32Array, refP[i]));
      state.forEach((list, s) => (worst = Math.max(worst, maxAbsDiff(list[i].data as Float32Array, refS[s][i]))));
    });
  }
  await sess.release();
  return { worst, moved: maxAbsDiff(params[0].data as Float32Array, seededNormal(12, 10)) };
}

test('adamw matches torch.optim.AdamW over 6 steps with a changing lr', async () => {
  const [b1, b2, eps, wd] = [0.8, 0.99, 1e-6, 0.05];
  const { worst, moved } = await runSteps(
    (g, ps, gs, [m, v], step, lr) => {
      const o = adamw(ps, gs, m, v, step, lr, { beta1: b1, beta2: b2, eps, weightDecay: wd });
      return { params: o.params, state: [o.m, o.v] };
    },
    2,
    (p, g, [m, v], step, lr) => p.forEach((_, i) => adamwRef(p[i], g[i], m[i], v[i], step, lr, b1, b2, eps, wd)),
    6,
    (k) => 0.01 * Math.min(1, k / 3),
  );
  assert.ok(moved > 0.01, `parameters moved ${moved}`);
  assert.ok(worst < 1e-6, `max abs diff ${worst}`);
});

test('adamw defaults are torch AdamW defaults except weight decay 1e-2 (betas 0.9/0.999, eps 1e-8)', async () => {
  const { worst } = await runSteps(
    (g, ps, gs, [m, v], step, lr) => {
      const o = adamw(ps, gs, m, v, step, lr);
      return { params: o.params, state: [o.m, o.v] };
    },
    2,
    (p, g, [m, v], step, lr) => p.forEach((_, i) => adamwRef(p[i], g[i], m[i], v[i], step, lr, 0.9, 0.999, 1e-8, 1e-2)),
    3,
    () => 1e-3,
  );
  assert.ok(worst < 1e-6, `max abs diff ${worst}`);
});

for (const scale of [0.05, 3])
  test(`clipGradNorm follows clip_grad_norm_ with the total norm ${scale < 1 ? 'below' : 'above'} max_norm`, async () => {
    const g = new Graph();
    const ins = shapes.map((s, i) => g.input(`g${i}`, 'float32', s));
    const out = clipGradNorm(ins, 1.0);
    out.grads.forEach((v, i) => g.output(`c${i}`, v));
    g.output('norm', out.norm);
    const feeds = Object.fromEntries(shapes.map((s, i) => [`g${i}`, f32(s, seededNormal(numel(s), 40 + i, scale))]));
    const res = await runOnce(g, feeds);
    const all = shapes.flatMap((_, i) => [...feeds[`g${i}`].data] as number[]);
    const norm = Math.sqrt(all.reduce((a, x) => a + x * x, 0));
    const coef = Math.min(1, 1.0 / (norm + 1e-6));
    assert.ok(scale < 1 ? norm < 1 : norm > 1, `norm ${norm}`);
    assert.ok(Math.abs((res.norm.data[0] as number) - norm) < 1e-5 * norm);
    shapes.forEach((_, i) => assert.ok(maxAbsDiff(res[`c${i}`].data as Float32Array, [...feeds[`g${i}`].data].map((x) => (x as number) * coef)) < 1e-6));
  });
