import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { graphMemory, hostTensor, saveModel, type HostTensor, type Session } from '@npo/graph';
import { adapterFeeds, loraKey, moduleSpecs } from '../packages/diffusion/src/lora/adapter.ts';
import { ArtifactDir } from '../packages/diffusion/src/model/artifacts.ts';
import { adamStateName, STEP_INPUTS, STEP_OUTPUTS, updatedName } from '../packages/diffusion/src/objectives/step-graph-names.ts';
import { buildStepWithPlan, estimateFromGraph, keepPeak } from '../packages/diffusion/src/memory/step-memory.ts';
import type { StepMemoryPlanName } from '../packages/diffusion/src/memory/step-memory-plans.ts';
import type { Precision } from '@npo/contracts';
import { alphasCumprod, SD15_SCHEDULER } from '../packages/diffusion/src/schedule/noise-schedule.ts';
import { REPO_ROOT, STEP_HYPERPARAMETERS, type BuiltWorkload } from './workloads.ts';

export interface CompiledStep {
  modelPath: string;
  paramNames: string[];
  /** true when this call built and serialized the graph (false: reused the cached artifact) */
  built: boolean;
  /** the memory estimate written beside it */
  estimatePath: string;
}

/** Hash of the code that shapes the graph, so a cached artifact is rebuilt whenever graph or model code changes. */
function codeHash(): string {
  const h = createHash('sha256');
  for (const dir of ['packages/graph/src', 'packages/diffusion/src', 'bench']) {
    const walk = (d: string) => {
      for (const name of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const p = join(d, name.name);
        if (name.isDirectory()) walk(p);
        else if (name.name.endsWith('.ts')) h.update(p).update(readFileSync(p));
      }
    };
    walk(join(REPO_ROOT, dir));
  }
  return h.digest('hex');
}

/**
 * Builds the NPO step graph (LoRA UNet + reference UNet, loss, gradient, clip, AdamW) and saves it beside
 * a hard link to the weights; reused while the code and workload are unchanged, as a trainer would reuse
 * its compiled artifact. Compiling is not part of the timed step. A 16-bit `precision` gets its own files
 * (`step.fp16.onnx`…), so fp32 and fp16 runs of one workload do not rebuild each other's artifact.
 */
export function compileStep(p: BuiltWorkload, plan: StepMemoryPlanName = 'attention', precision: Precision = 'fp32'): CompiledStep {
  const artifacts = new ArtifactDir(join(p.dir, 'artifacts'));
  const weights = artifacts.weights(p.weightsPath, 'unet.safetensors');
  const h = STEP_HYPERPARAMETERS;
  const modules = moduleSpecs(p.adapter);
  const key = createHash('sha256').update(codeHash()).update(JSON.stringify([p.workload, h, plan, ...(precision !== 'fp32' ? [precision] : [])])).digest('hex');
  const suffix = precision === 'fp32' ? '' : `.${precision}`;
  const stamp = join(artifacts.dir, `step${suffix}.key`);
  const modelPath = join(artifacts.dir, `step${suffix}.onnx`);
  const estimatePath = join(artifacts.dir, `estimate${suffix}.json`);
  const paramNames = modules.flatMap((m) => [loraKey(m.path, 'A'), loraKey(m.path, 'B')]);
  if (existsSync(modelPath) && existsSync(stamp) && readFileSync(stamp, 'utf8') === key) return { modelPath, paramNames, built: false, estimatePath };
  const spec = {
    unet: { config: p.config, weights },
    lora: { config: p.adapter.config, modules },
    pairs: p.workload.pairs,
    latentShape: p.workload.latentShape,
    embedShape: p.workload.embedShape,
    method: h.method,
    beta: h.beta,
    alphasCumprod: alphasCumprod(SD15_SCHEDULER),
    prediction: h.prediction,
    maxGradNorm: h.maxGradNorm,
    adamw: h.adamw,
    precision,
  };
  const step = buildStepWithPlan(spec, plan);
  const graph = graphMemory(step.graph);
  const estimate = estimateFromGraph(plan, graph, keepPeak(spec, plan, graph));
  writeFileSync(estimatePath, JSON.stringify(estimate));
  if (step.paramNames.join('\n') !== paramNames.join('\n')) throw new Error('bench: step graph parameter order differs from the adapter module order');
  // Not ArtifactDir.compile: that also opens a session, and the bench opens its own with the options under test.
  saveModel(step.graph, modelPath);
  writeFileSync(stamp, key);
  return { modelPath, paramNames, built: true, estimatePath };
}

export interface StepTimings {
  ms: number[];
  losses: number[];
  gradNorms: number[];
}

/** The outputs a training loop reads back each step: the updated adapter and Adam state, loss and grad norm. */
export function stepOutputs(paramNames: string[]): string[] {
  return [STEP_OUTPUTS.loss, STEP_OUTPUTS.gradNorm, ...paramNames.flatMap((n) => [updatedName(n), updatedName(adamStateName(n, 'm')), updatedName(adamStateName(n, 'v'))])];
}

/** The first step's trainable state: the adapter's initial LoRA tensors and zero Adam m and v for each. */
export function initialStepState(p: BuiltWorkload, paramNames: string[]): Record<string, HostTensor> {
  const state: Record<string, HostTensor> = { ...adapterFeeds(p.adapter) };
  for (const n of paramNames) {
    state[adamStateName(n, 'm')] = hostTensor('float32', state[n].shape);
    state[adamStateName(n, 'v')] = hostTensor('float32', state[n].shape);
  }
  return state;
}

/**
 * Runs warm-up + timed steps, feeding each step's updated LoRA and Adam state into the next as a real loop
 * does. Each timing covers one session.run including the host↔onnxruntime copies of inputs and outputs.
 */
export async function runSteps(session: Session, p: BuiltWorkload, paramNames: string[], warmup: number, steps: number): Promise<StepTimings> {
  const state = initialStepState(p, paramNames);
  const outputs = stepOutputs(paramNames);
  const lr = hostTensor('float32', [], [STEP_HYPERPARAMETERS.lr]);
  const out: StepTimings = { ms: [], losses: [], gradNorms: [] };
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    const res = await session.run({ ...state, ...p.batch, [STEP_INPUTS.step]: hostTensor('float32', [], [i + 1]), [STEP_INPUTS.lr]: lr }, outputs);
    for (const n of paramNames) {
      state[n] = res[updatedName(n)];
      state[adamStateName(n, 'm')] = res[updatedName(adamStateName(n, 'm'))];
      state[adamStateName(n, 'v')] = res[updatedName(adamStateName(n, 'v'))];
    }
    const ms = performance.now() - t0;
    out.losses.push((res.loss.data as Float32Array)[0]);
    out.gradNorms.push((res.grad_norm.data as Float32Array)[0]);
    if (i >= warmup) out.ms.push(ms);
  }
  return out;
}
