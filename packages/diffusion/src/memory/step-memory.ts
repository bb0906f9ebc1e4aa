import { graphMemory, type GraphMemory } from '@npo/graph';
import { targetModuleSpecs, type LoraConfig } from '../lora/adapter.ts';
import { WeightSource } from '../model/weights.ts';
import { buildPreferenceStep, type PreferenceStepSpec, type StepGraph } from '../objectives/preference-step.ts';
import { unetParameterShapes } from '../unet/parameters.ts';
import type { UNetConfig } from '../unet/config.ts';
import { STEP_MEMORY_PLAN_NAMES, STEP_MEMORY_PLANS, type StepMemoryPlanName } from './step-memory-plans.ts';

/**
 * Peak memory of a process training with one step graph, from the graph alone (shapes, nothing run):
 *   peak RSS ≈ runtime + resident constants + inputs + factor(plan) × activation peak + share(plan) × keep's peak
 * where the resident constants are the weights as onnxruntime holds them (a float16 file's weights folded to float32:
 * the stored halves are freed once folded) and the activation peaks are graphMemory's liveness simulation — exact
 * for the order onnxruntime runs the step in (serialize.ts runtimeListing, execution-order.test.ts). The constants are
 * fitted to peak RSS measured with `bench/run.ts <workload> --plan <plan>` on this machine (onnxruntime-node, CPU,
 * arena on, memory pattern off, 'extended' optimization, as Session sets them): the allocator holds more than the live
 * values, and with every block recomputed that excess follows the size of the model's activations rather than the
 * little that `blocks` keeps. The estimate-vs-measured table is in README "Speed and memory" and step-memory.test.ts.
 */
export const STEP_MEMORY_CALIBRATION = {
  /** Node, onnxruntime and the trainer's own state before the session holds anything (the tiny step: ~230 MB). */
  runtimeBytes: 225 * 2 ** 20,
  /** Measured RSS over simulated live activations, per plan. */
  activationFactor: { keep: 1.3, attention: 1.4, blocks: 1.4 } satisfies Record<StepMemoryPlanName, number>,
  /** And this share of what the `keep` plan's step would hold live (SD1.5 at 512 px: 0.25 × 9.5 GB). */
  keepShare: { keep: 0, attention: 0, blocks: 0.25 } satisfies Record<StepMemoryPlanName, number>,
};

export interface StepMemoryEstimate {
  plan: StepMemoryPlanName;
  /** The estimated peak RSS of the training process, bytes. */
  totalBytes: number;
  graph: GraphMemory;
}

/** The step spec without the memory choices that the plans make. */
export type StepSpecForMemory = Omit<PreferenceStepSpec, 'attention' | 'checkpointBlocks'>;

/** `keepPeakBytes`: the activation peak of the same step under `keep` (needed when the plan's keepShare is not 0). */
export function estimateFromGraph(plan: StepMemoryPlanName, graph: GraphMemory, keepPeakBytes: number): StepMemoryEstimate {
  const c = STEP_MEMORY_CALIBRATION;
  const totalBytes = c.runtimeBytes + graph.residentConstantBytes + graph.inputBytes + c.activationFactor[plan] * graph.peakActivationBytes + c.keepShare[plan] * keepPeakBytes;
  return { plan, totalBytes: Math.round(totalBytes), graph };
}

export function buildStepWithPlan(spec: StepSpecForMemory, plan: StepMemoryPlanName): StepGraph {
  const p = STEP_MEMORY_PLANS[plan];
  return buildPreferenceStep({ ...spec, attention: p.attention, checkpointBlocks: p.checkpointBlocks });
}

export function estimateStepMemory(spec: StepSpecForMemory, plan: StepMemoryPlanName): StepMemoryEstimate {
  const graph = graphMemory(buildStepWithPlan(spec, plan).graph);
  return estimateFromGraph(plan, graph, keepPeak(spec, plan, graph));
}

/** The `keep` plan's activation peak, built only when `plan`'s estimate needs it. */
export function keepPeak(spec: StepSpecForMemory, plan: StepMemoryPlanName, planGraph: GraphMemory): number {
  if (plan === 'keep') return planGraph.peakActivationBytes;
  return STEP_MEMORY_CALIBRATION.keepShare[plan] ? graphMemory(buildStepWithPlan(spec, 'keep').graph).peakActivationBytes : 0;
}

/** One plan's step graph, built, and its estimate. */
export interface PlannedStep {
  plan: StepMemoryPlanName;
  estimate: StepMemoryEstimate;
  /** The graph built with `plan`, so the caller does not build it again. */
  step: StepGraph;
}

/** The first plan (least recomputation) whose estimate fits, or the last (full checkpointing) when none does. */
export interface StepMemoryChoice extends PlannedStep {
  fits: boolean;
}

/**
 * Every plan's step and estimate in plan order (least recomputation first), each built only when asked for. `keep`
 * comes first, so its activation peak is known when a later plan's estimate needs it (keepShare).
 */
export function* plannedSteps(spec: StepSpecForMemory): Generator<PlannedStep> {
  let keepPeakBytes = 0;
  for (const plan of STEP_MEMORY_PLAN_NAMES) {
    const step = buildStepWithPlan(spec, plan);
    const graph = graphMemory(step.graph);
    if (plan === 'keep') keepPeakBytes = graph.peakActivationBytes;
    yield { plan, estimate: estimateFromGraph(plan, graph, keepPeakBytes), step };
  }
}

/** The first of `candidates` (in plan order) whose estimate fits `budgetBytes`, or the last when none does. */
export function firstFitting(candidates: Iterable<PlannedStep>, budgetBytes: number): StepMemoryChoice {
  let last: StepMemoryChoice | null = null;
  for (const c of candidates) {
    last = { ...c, fits: c.estimate.totalBytes <= budgetBytes };
    if (last.fits) return last;
  }
  return last!;
}

/**
 * The step graph with the least recomputation that fits `budgetBytes`: every activation kept if that fits, else the
 * large attention maps recomputed, else every block checkpointed. `fits: false` when even that exceeds the budget.
 */
export function chooseStepMemoryPlan(spec: StepSpecForMemory, budgetBytes: number): StepMemoryChoice {
  return firstFitting(plannedSteps(spec), budgetBytes);
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
