import { graphMemory, type GraphMemory } from '@npo/graph';
import { targetModuleSpecs, type LoraConfig } from '../lora/adapter.ts';
import { WeightSource } from '../model/weights.ts';
import { buildPreferenceStep, type PreferenceStepSpec, type StepGraph } from '../objectives/preference-step.ts';
import { unetParameterShapes } from '../unet/parameters.ts';
import type { UNetConfig } from '../unet/config.ts';
import { STEP_MEMORY_PLAN_NAMES, STEP_MEMORY_PLANS, type StepMemoryPlanName } from './step-memory-plans.ts';

/**
 * Peak memory of a process training with one step graph, from the graph alone (shapes, nothing run):
 *   peak RSS ≈ runtime + stored initializers + their resident float32 form + inputs + factor(plan) × activation peak
 * where the activation peak is graphMemory's liveness simulation. The constants are fitted to peak RSS measured with
 * `bench/run.ts <workload> --plan <plan>` on this machine (onnxruntime-node, CPU, arena on, memory pattern off as
 * Session sets it): onnxruntime keeps the loaded initializers beside the folded float32 copies, and its arena holds
 * more than the live values — the more so the more regions are recomputed (fragmentation, kernel scratch). The
 * estimate-vs-measured table is in README "Speed and memory" and step-memory.test.ts.
 */
export const STEP_MEMORY_CALIBRATION = {
  /** Node, onnxruntime and the trainer's own state before the session holds anything (bench/profile.ts: ~150 MB). */
  runtimeBytes: 200 * 2 ** 20,
  /** Measured RSS over simulated live activations, per plan (sd15s at 1 and 2 pairs, tiny). */
  activationFactor: { keep: 1.15, attention: 1.45, blocks: 2.5 } satisfies Record<StepMemoryPlanName, number>,
};

export interface StepMemoryEstimate {
  plan: StepMemoryPlanName;
  /** The estimated peak RSS of the training process, bytes. */
  totalBytes: number;
  graph: GraphMemory;
}

/** The step spec without the memory choices that the plans make. */
export type StepSpecForMemory = Omit<PreferenceStepSpec, 'attention' | 'checkpointBlocks'>;

export function estimateFromGraph(plan: StepMemoryPlanName, graph: GraphMemory): StepMemoryEstimate {
  const c = STEP_MEMORY_CALIBRATION;
  const totalBytes = c.runtimeBytes + graph.initializerBytes + graph.residentConstantBytes + graph.inputBytes + c.activationFactor[plan] * graph.peakActivationBytes;
  return { plan, totalBytes: Math.round(totalBytes), graph };
}

export function buildStepWithPlan(spec: StepSpecForMemory, plan: StepMemoryPlanName): StepGraph {
  const p = STEP_MEMORY_PLANS[plan];
  return buildPreferenceStep({ ...spec, attention: p.attention, checkpointBlocks: p.checkpointBlocks });
}

export function estimateStepMemory(spec: StepSpecForMemory, plan: StepMemoryPlanName): StepMemoryEstimate {
  return estimateFromGraph(plan, graphMemory(buildStepWithPlan(spec, plan).graph));
}

export interface StepMemoryChoice {
  /** The first plan (least recomputation) whose estimate fits, or the last (full checkpointing) when none does. */
  plan: StepMemoryPlanName;
  estimate: StepMemoryEstimate;
  fits: boolean;
  /** The graph built with `plan`, so the caller does not build it again. */
  step: StepGraph;
}

/**
 * The step graph with the least recomputation that fits `budgetBytes`: every activation kept if that fits, else the
 * large attention maps recomputed, else every block checkpointed. `fits: false` when even that exceeds the budget.
 */
export function chooseStepMemoryPlan(spec: StepSpecForMemory, budgetBytes: number): StepMemoryChoice {
  let last: StepMemoryChoice | null = null;
  for (const plan of STEP_MEMORY_PLAN_NAMES) {
    const step = buildStepWithPlan(spec, plan);
    const estimate = estimateFromGraph(plan, graphMemory(step.graph));
    last = { plan, estimate, fits: estimate.totalBytes <= budgetBytes, step };
    if (last.fits) return last;
  }
  return last!;
}

/**
 * A step spec from a UNet config alone (no weights file): what the estimate needs to judge a job before its model is
 * on disk — the parameter shapes come from unetParameterShapes, stored as `weightsDtype`.
 */
export function stepSpecFromConfig(o: {
  config: UNetConfig; weightsDtype: 'float32' | 'float16'; pairs: number; latentShape: number[]; embedShape: number[]; lora: LoraConfig;
}): StepSpecForMemory {
  const weights = WeightSource.fromShapes(unetParameterShapes(o.config), o.weightsDtype);
  const modules = targetModuleSpecs(weights, o.lora.targets);
  return {
    unet: { config: o.config, weights }, lora: { config: o.lora, modules }, pairs: o.pairs, latentShape: o.latentShape, embedShape: o.embedShape,
    method: 'npo', beta: 1000, alphasCumprod: new Float32Array(1000).fill(0.5), prediction: 'epsilon', maxGradNorm: 1, adamw: {},
  };
}
