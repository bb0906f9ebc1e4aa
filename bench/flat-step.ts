/**
 * Experiment: the same NPO step with every LoRA tensor packed into ONE flat parameter (and one flat Adam m
 * and v). The graph Splits it into the A/B matrices, so the gradient comes back as a single Concat, and clip +
 * AdamW become ~20 nodes instead of ~15 per LoRA tensor (256 tensors in sd15s). Same math as
 * buildPreferenceStep — the per-step losses printed to stderr must match bench/run.ts.
 *   npx tsx bench/flat-step.ts <tiny|sd15s> [--threads N] [--steps N]
 * Prints the bench line with workload `<name>-flat`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adamw, clipGradNorm, grad, Graph, hostTensor, reshape, saveModel, Session, split, type Value } from '@npo/graph';
import { adapterFeeds, loraKey, moduleSpecs } from '../packages/diffusion/src/lora/adapter.ts';
import { STEP_INPUTS, STEP_OUTPUTS } from '../packages/diffusion/src/objectives/step-graph-names.ts';
import { ArtifactDir } from '../packages/diffusion/src/model/artifacts.ts';
import type { LoraValues } from '../packages/diffusion/src/model/context.ts';
import { assembleModelBatch, preferenceLoss } from '../packages/diffusion/src/objectives/preference.ts';
import { alphasCumprod, SD15_SCHEDULER } from '../packages/diffusion/src/schedule/noise-schedule.ts';
import { unetForward } from '../packages/diffusion/src/unet/unet.ts';
import { parseBenchArgs, summarize } from './cli-args.ts';
import { getWorkload, buildWorkload, STEP_HYPERPARAMETERS, type BuiltWorkload } from './workloads.ts';

function buildFlatStep(p: BuiltWorkload, weightsPath: string) {
  const g = new Graph();
  const h = STEP_HYPERPARAMETERS;
  const modules = moduleSpecs(p.adapter);
  const r = p.adapter.config.rank;
  const shapes = modules.flatMap((m) => [[r, m.in], [m.out, r]]);
  const sizes = shapes.map(([a, b]) => a * b);
  const total = sizes.reduce((a, b) => a + b, 0);
  const flat = g.input('lora_flat', 'float32', [total]);
  const pieces = split(flat, sizes, 0).map((v, i) => reshape(v, shapes[i]));
  const adapter: LoraValues = { modules: new Map(modules.map((m, i) => [m.path, { A: pieces[2 * i], B: pieces[2 * i + 1] }])), scale: p.adapter.config.alpha / r };
  const P = p.workload.pairs;
  const lat = [P, ...p.workload.latentShape];
  const mb = assembleModelBatch({
    chosen: g.input(STEP_INPUTS.chosen, 'float32', lat),
    rejected: g.input(STEP_INPUTS.rejected, 'float32', lat),
    noise: g.input(STEP_INPUTS.noise, 'float32', lat),
    timesteps: g.input(STEP_INPUTS.timesteps, 'int64', [P]),
    embeds: g.input(STEP_INPUTS.embeds, 'float32', [P, ...p.workload.embedShape]),
  }, h.method, alphasCumprod(SD15_SCHEDULER), h.prediction);
  const weights = new ArtifactDir(join(p.dir, 'artifacts-flat')).weights(weightsPath, 'unet.safetensors');
  const inputs = { sample: mb.noisy, timesteps: mb.timestepsFloat, encoderHiddenStates: mb.embeds };
  const modelPred = g.scope('model', () => unetForward({ g, weights, adapters: [adapter] }, p.config, inputs));
  const refPred = g.scope('reference', () => unetForward({ g, weights, adapters: [] }, p.config, inputs));
  const L = preferenceLoss(modelPred, refPred, mb.target, h.beta);
  const grads: Value[] = grad(L.loss, [flat]);
  const clipped = clipGradNorm(grads, h.maxGradNorm);
  const m = g.input('adam_m', 'float32', [total]);
  const v = g.input('adam_v', 'float32', [total]);
  const upd = adamw([flat], clipped.grads, [m], [v], g.input(STEP_INPUTS.step, 'float32', []), g.input(STEP_INPUTS.lr, 'float32', []), h.adamw);
  g.output(STEP_OUTPUTS.loss, L.loss);
  g.output(STEP_OUTPUTS.gradNorm, clipped.norm);
  g.output('new.lora_flat', upd.params[0]);
  g.output('new.adam_m', upd.m[0]);
  g.output('new.adam_v', upd.v[0]);
  return { graph: g, total };
}

async function main() {
  const args = parseBenchArgs(process.argv.slice(2));
  const w = getWorkload(args.workload);
  const p = buildWorkload(w);
  const modelPath = join(p.dir, 'artifacts-flat', 'step.onnx');
  const stamp = `${modelPath}.src`;
  const src = readFileSync(new URL(import.meta.url).pathname, 'utf8');
  const r = p.adapter.config.rank;
  const total = moduleSpecs(p.adapter).reduce((a, m) => a + r * (m.in + m.out), 0);
  if (!existsSync(modelPath) || !existsSync(stamp) || readFileSync(stamp, 'utf8') !== src) {
    saveModel(buildFlatStep(p, p.weightsPath).graph, modelPath);
    writeFileSync(stamp, src);
  }
  if (args.prepareOnly) return;
  const session = await Session.create(modelPath, { threads: args.threads, optimization: args.optimization });
  const flat = new Float32Array(total);
  let at = 0;
  const feeds = adapterFeeds(p.adapter);
  for (const m of moduleSpecs(p.adapter))
    for (const part of ['A', 'B'] as const) {
      const t = feeds[loraKey(m.path, part)].data as Float32Array;
      flat.set(t, at);
      at += t.length;
    }
  let state = { lora_flat: hostTensor('float32', [total], flat), adam_m: hostTensor('float32', [total]), adam_v: hostTensor('float32', [total]) };
  const warmup = STEP_HYPERPARAMETERS.warmupSteps;
  const steps = args.steps ?? w.defaultSteps;
  const ms: number[] = [];
  const losses: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    const res = await session.run({ ...state, ...p.batch, [STEP_INPUTS.step]: hostTensor('float32', [], [i + 1]), [STEP_INPUTS.lr]: hostTensor('float32', [], [STEP_HYPERPARAMETERS.lr]) },
      [STEP_OUTPUTS.loss, STEP_OUTPUTS.gradNorm, 'new.lora_flat', 'new.adam_m', 'new.adam_v']);
    state = { lora_flat: res['new.lora_flat'], adam_m: res['new.adam_m'], adam_v: res['new.adam_v'] };
    if (i >= warmup) ms.push(performance.now() - t0);
    losses.push((res.loss.data as Float32Array)[0]);
  }
  await session.release();
  process.stderr.write(`[flat] losses ${losses.map((l) => l.toPrecision(6)).join(' ')}\n`);
  console.log(JSON.stringify(summarize(`${w.name}-flat`, args.threads, ms, process.resourceUsage().maxRSS)));
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
