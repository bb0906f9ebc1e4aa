import { adamw, clipGradNorm, type AdamWOptions, type Graph, type Value } from '@npo/graph';

/** Graph names of the AdamW state of parameter `key`, and of a tensor's updated value: the trainer feeds them back. */
export const adamStateName = (key: string, which: 'm' | 'v') => `adam_${which}.${key}`;
export const updatedName = (key: string) => `new.${key}`;

/**
 * Appends clip-grad-norm (reported as output `grad_norm`) and, when `adam` is given, an AdamW step: state and
 * `step`/`lr` as inputs, updated parameters and state as outputs. One artifact then serves every step.
 */
export function appendTrainingUpdate(
  g: Graph, names: string[], params: Value[], grads: Value[], maxGradNorm: number | null, adam: AdamWOptions | null,
): void {
  const clipped = clipGradNorm(grads, maxGradNorm ?? Infinity);
  g.output('grad_norm', clipped.norm);
  if (!adam) return;
  const m = names.map((n, i) => g.input(adamStateName(n, 'm'), 'float32', [...params[i].shape]));
  const v = names.map((n, i) => g.input(adamStateName(n, 'v'), 'float32', [...params[i].shape]));
  const step = g.input('step', 'float32', []);
  const lr = g.input('lr', 'float32', []);
  const upd = adamw(params, maxGradNorm === null ? grads : clipped.grads, m, v, step, lr, adam);
  names.forEach((n, i) => {
    g.output(updatedName(n), upd.params[i]);
    g.output(updatedName(adamStateName(n, 'm')), upd.m[i]);
    g.output(updatedName(adamStateName(n, 'v')), upd.v[i]);
  });
}
