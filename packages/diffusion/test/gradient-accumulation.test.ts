import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADAMW_DEFAULTS, hostTensor, Rng, serialize, Session, type HostTensor } from '@npo/graph';
import {
  adamStateName, adapterFeeds, alphasCumprod, ArtifactDir, buildApplyUpdate, buildPreferenceStep, gradSumName, initLora, moduleSpecs,
  parseUNetConfig, SD15_SCHEDULER, STEP_INPUTS, updatedName, WeightSource, DEFAULT_TARGETS,
} from '../src/index.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures/tiny-unet/unet');
const LATENT = [4, 8, 8];
const EMBED = [7, 32];

/** Pairs [from, to) of a seeded batch of 8 as step feeds. */
function slicePairs(all: Record<string, HostTensor>, from: number, to: number): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const [k, t] of Object.entries(all)) {
    const per = t.data.length / t.shape[0];
    out[k] = { dtype: t.dtype, shape: [to - from, ...t.shape.slice(1)], data: t.data.slice(from * per, to * per) } as HostTensor;
  }
  return out;
}

test('gradient accumulation: 4 micro-batches of 2 pairs give the same clipped AdamW update as one batch of 8 pairs', async () => {
  const work = mkdtempSync(join(tmpdir(), 'npo-accum-'));
  try {
    const config = parseUNetConfig(JSON.parse(readFileSync(join(FIXTURE, 'config.json'), 'utf8')));
    const file = join(FIXTURE, 'diffusion_pytorch_model.safetensors');
    const artifacts = new ArtifactDir(work);
    const weights = artifacts.weights(file, 'unet.safetensors');
    const loraConfig = { rank: 4, alpha: 4, targets: DEFAULT_TARGETS };
    // B non-zero so every LoRA tensor has a gradient, as after the first optimizer step.
    const init = initLora(WeightSource.fromSafetensors(file), loraConfig, 5);
    const rngB = new Rng(9);
    for (const m of init.modules.values()) rngB.fillNormal(m.B.data as Float32Array).forEach((_, i, a) => (a[i] *= 0.05));
    const modules = moduleSpecs(init);
    const adamw = ADAMW_DEFAULTS;
    // max_grad_norm small enough that clipping is active: it must act on the mean gradient, not per micro-batch.
    const common = {
      unet: { config, weights }, lora: { config: loraConfig, modules }, latentShape: LATENT, embedShape: EMBED, method: 'npo' as const,
      beta: 500, alphasCumprod: alphasCumprod(SD15_SCHEDULER), prediction: 'epsilon' as const, maxGradNorm: 1e-3, adamw,
    };
    const whole = buildPreferenceStep({ ...common, pairs: 8 });
    const micro = buildPreferenceStep({ ...common, pairs: 2, update: 'accumulate' });
    const params = adapterFeeds(init);
    const names = whole.paramNames;
    const apply = buildApplyUpdate({ params: names.map((n) => ({ name: n, shape: params[n].shape })), microSteps: 4, maxGradNorm: 1e-3, adamw });

    const rng = new Rng(11);
    const L = LATENT.reduce((a, b) => a * b);
    const batch: Record<string, HostTensor> = {
      chosen: hostTensor('float32', [8, ...LATENT], rng.fillNormal(new Float32Array(8 * L))),
      rejected: hostTensor('float32', [8, ...LATENT], rng.fillNormal(new Float32Array(8 * L))),
      noise: hostTensor('float32', [8, ...LATENT], rng.fillNormal(new Float32Array(8 * L))),
      timesteps: hostTensor('int64', [8], [3, 150, 320, 499, 610, 777, 850, 998]),
      embeds: hostTensor('float32', [8, ...EMBED], rng.fillNormal(new Float32Array(8 * 7 * 32))),
    };
    // Non-zero Adam state and a later step, so bias correction and both moments take part.
    const optimizer: Record<string, HostTensor> = {};
    for (const n of names) {
      optimizer[adamStateName(n, 'm')] = hostTensor('float32', params[n].shape, rng.fillNormal(new Float32Array(params[n].data.length)).map((x) => x * 1e-4));
      optimizer[adamStateName(n, 'v')] = hostTensor('float32', params[n].shape, rng.fillNormal(new Float32Array(params[n].data.length)).map((x) => x * x * 1e-8));
    }
    const stepLr = { [STEP_INPUTS.step]: hostTensor('float32', [], [3]), [STEP_INPUTS.lr]: hostTensor('float32', [], [1e-3]) };

    const { session: sWhole } = await artifacts.compile(whole.graph, 'whole');
    const ref = await sWhole.run({ ...params, ...optimizer, ...batch, ...stepLr });
    await sWhole.release();

    const { session: sMicro } = await artifacts.compile(micro.graph, 'micro');
    let sums: Record<string, HostTensor> = Object.fromEntries(names.map((n) => [gradSumName(n), hostTensor('float32', params[n].shape)]));
    let lossSum = 0;
    for (let k = 0; k < 4; k++) {
      const r = await sMicro.run({ ...params, ...sums, ...slicePairs(batch, 2 * k, 2 * k + 2) });
      sums = Object.fromEntries(names.map((n) => [gradSumName(n), r[updatedName(gradSumName(n))]]));
      lossSum += Number(r.loss.data[0]);
    }
    await sMicro.release();
    const sApply = await Session.create(serialize(apply));
    const acc = await sApply.run({ ...params, ...optimizer, ...sums, ...stepLr });
    await sApply.release();

    assert.ok(Math.abs(lossSum / 4 - Number(ref.loss.data[0])) < 1e-5, `mean micro-batch loss ${lossSum / 4} vs ${ref.loss.data[0]}`);
    const normRef = Number(ref.grad_norm.data[0]);
    assert.ok(normRef > 1e-3, `clipping must be active (norm ${normRef})`);
    assert.ok(Math.abs(Number(acc.grad_norm.data[0]) - normRef) <= 1e-5 * normRef, `grad norm ${acc.grad_norm.data[0]} vs ${normRef}`);
    let worst = 0;
    let moved = 0;
    for (const n of names)
      for (const out of [updatedName(n), updatedName(adamStateName(n, 'm')), updatedName(adamStateName(n, 'v'))]) {
        const a = acc[out].data as Float32Array;
        const b = ref[out].data as Float32Array;
        const scale = Math.max(...b.map(Math.abs), 1e-30);
        for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / scale);
      }
    for (const n of names) {
      const a = ref[updatedName(n)].data as Float32Array;
      const p = params[n].data as Float32Array;
      for (let i = 0; i < a.length; i++) moved = Math.max(moved, Math.abs(a[i] - p[i]));
    }
    assert.ok(moved > 1e-5, 'the update moves the parameters');
    assert.ok(worst < 1e-4, `worst relative difference of params / Adam state ${worst}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
