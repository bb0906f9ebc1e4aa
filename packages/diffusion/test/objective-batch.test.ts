import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, hostTensor, Rng, serialize, Session } from '@npo/graph';
import { alphasCumprod, assembleModelBatch, SD15_SCHEDULER } from '../src/index.ts';

const acp = alphasCumprod(SD15_SCHEDULER);

async function assemble(method: 'npo' | 'dpo', prediction: 'epsilon' | 'v_prediction') {
  const g = new Graph();
  const shape = [2, 1, 2, 2];
  const chosen = g.input('chosen', 'float32', shape);
  const rejected = g.input('rejected', 'float32', shape);
  const noise = g.input('noise', 'float32', shape);
  const timesteps = g.input('timesteps', 'int64', [2]);
  const embeds = g.input('embeds', 'float32', [2, 3, 4]);
  const mb = assembleModelBatch({ chosen, rejected, noise, timesteps, embeds }, method, acp, prediction);
  g.output('noisy', mb.noisy);
  g.output('target', mb.target);
  g.output('t', mb.timestepsFloat);
  g.output('embeds_out', mb.embeds);
  const rng = new Rng(1);
  const feeds = {
    chosen: hostTensor('float32', shape, rng.fillNormal(new Float32Array(8))),
    rejected: hostTensor('float32', shape, rng.fillNormal(new Float32Array(8))),
    noise: hostTensor('float32', shape, rng.fillNormal(new Float32Array(8))),
    timesteps: hostTensor('int64', [2], [17, 900]),
    embeds: hostTensor('float32', [2, 3, 4], rng.fillNormal(new Float32Array(24))),
  };
  const s = await Session.create(serialize(g));
  const out = await s.run(feeds);
  await s.release();
  return { feeds, out };
}

test('the model batch is [first; second] with shared noise and timestep per pair: NPO puts the rejected image first', async () => {
  for (const method of ['npo', 'dpo'] as const) {
    const { feeds, out } = await assemble(method, 'epsilon');
    const [first, second] = method === 'npo' ? [feeds.rejected, feeds.chosen] : [feeds.chosen, feeds.rejected];
    const z = [...(first.data as Float32Array), ...(second.data as Float32Array)];
    const eps = [...(feeds.noise.data as Float32Array), ...(feeds.noise.data as Float32Array)];
    const t = [17, 900, 17, 900];
    assert.deepEqual([...(out.t.data as Float32Array)], t);
    const noisy = out.noisy.data as Float32Array;
    for (let i = 0; i < 16; i++) {
      const a = acp[t[Math.floor(i / 4)]];
      assert.ok(Math.abs(noisy[i] - (Math.sqrt(a) * z[i] + Math.sqrt(1 - a) * eps[i])) < 1e-5, `${method} noisy[${i}]`);
    }
    assert.deepEqual([...(out.target.data as Float32Array)], eps.map(Math.fround), 'epsilon target = the shared noise');
    assert.deepEqual([...(out.embeds_out.data as Float32Array)], [...(feeds.embeds.data as Float32Array), ...(feeds.embeds.data as Float32Array)]);
  }
});

test('v-prediction target: v = √ᾱ·ε − √(1−ᾱ)·z', async () => {
  const { feeds, out } = await assemble('dpo', 'v_prediction');
  const z = [...(feeds.chosen.data as Float32Array), ...(feeds.rejected.data as Float32Array)];
  const eps = [...(feeds.noise.data as Float32Array), ...(feeds.noise.data as Float32Array)];
  const t = [17, 900, 17, 900];
  const v = out.target.data as Float32Array;
  for (let i = 0; i < 16; i++) {
    const a = acp[t[Math.floor(i / 4)]];
    assert.ok(Math.abs(v[i] - (Math.sqrt(a) * eps[i] - Math.sqrt(1 - a) * z[i])) < 1e-5, `v[${i}]`);
  }
});
