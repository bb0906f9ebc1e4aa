import { add, adamw, clipGradNorm, Graph, mul, type AdamWOptions, type Value } from '@npo/graph';
import { adamStateName, gradSumName, STEP_INPUTS, STEP_OUTPUTS, updatedName } from './step-graph-names.ts';

/**
 * Appends clip-grad-norm (reported as output `grad_norm`) and, when `adam` is given, an AdamW step: state and
 * `step`/`lr` as inputs, updated parameters and state as outputs. One artifact then serves every step.
 */
export function appendTrainingUpdate(
  g: Graph, names: string[], params: Value[], grads: Value[], maxGradNorm: number | null, adam: AdamWOptions | null,
): void {
  const clipped = clipGradNorm(grads, maxGradNorm ?? Infinity);
  g.output(STEP_OUTPUTS.gradNorm, clipped.norm);
  if (!adam) return;
  const m = names.map((n, i) => g.input(adamStateName(n, 'm'), 'float32', [...params[i].shape]));
  const v = names.map((n, i) => g.input(adamStateName(n, 'v'), 'float32', [...params[i].shape]));
  const step = g.input(STEP_INPUTS.step, 'float32', []);
  const lr = g.input(STEP_INPUTS.lr, 'float32', []);
  const upd = adamw(params, maxGradNorm === null ? grads : clipped.grads, m, v, step, lr, adam);
  names.forEach((n, i) => {
    g.output(updatedName(n), upd.params[i]);
    g.output(updatedName(adamStateName(n, 'm')), upd.m[i]);
    g.output(updatedName(adamStateName(n, 'v')), upd.v[i]);
  });
}

/**
 * The `accumulate` half of gradient accumulation: inputs `grad_sum.<key>`, outputs `new.grad_sum.<key>` = the
 * sum plus this micro-batch's (mean-over-pairs) gradient. The host carries the sums between runs (megabytes).
 */
export function appendGradientSums(g: Graph, names: string[], params: Value[], grads: Value[]): void {
  names.forEach((n, i) => {
    const sum = g.input(gradSumName(n), 'float32', [...params[i].shape]);
    g.output(updatedName(gradSumName(n)), add(sum, grads[i]));
  });
}

export interface ApplyUpdateSpec {
  params: { name: string; shape: number[] }[];
  /** Micro-batches summed into `grad_sum.*`: the update uses their mean, sum / microSteps. */
  microSteps: number;
  maxGradNorm: number | null;
  adamw: AdamWOptions;
}

/**
 * The `apply` half of gradient accumulation: the mean of the accumulated micro-batch gradients (equal-sized
 * micro-batches, so this is the gradient of the mean loss over all their pairs), clipped, then AdamW —
 * the same update as one step over the whole effective batch.
 */
export function buildApplyUpdate(spec: ApplyUpdateSpec): Graph {
  const g = new Graph();
  const names = spec.params.map((p) => p.name);
  const params = spec.params.map((p) => g.input(p.name, 'float32', [...p.shape]));
  const means = spec.params.map((p) => mul(g.input(gradSumName(p.name), 'float32', [...p.shape]), 1 / spec.microSteps));
  appendTrainingUpdate(g, names, params, means, spec.maxGradNorm, spec.adamw);
  return g;
}
