import type { Value } from './graph.ts';
import { add, div, min, mul, pow, reduceSum, sqrt, sub } from './ops.ts';

/**
 * torch.optim.AdamW's defaults: betas (0.9, 0.999), eps 1e-8, weight decay 1e-2. The one owner of these constants:
 * `adamw` falls back to them, the trainer's programs and bench/ take betas and eps from here (weight decay comes
 * from the job's hyperparameters there), and tests compare against torch steps made with them.
 */
export const ADAMW_DEFAULTS = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2 } as const;

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/**
 * One torch.optim.AdamW step (single-tensor path) as graph nodes. `step` is the 1-based step count and
 * `lr` the learning rate, both float32 scalar graph inputs, so one artifact serves every step and schedule.
 */
export function adamw(params: Value[], grads: Value[], m: Value[], v: Value[], step: Value, lr: Value, o: AdamWOptions = {}) {
  const b1 = o.beta1 ?? ADAMW_DEFAULTS.beta1;
  const b2 = o.beta2 ?? ADAMW_DEFAULTS.beta2;
  const eps = o.eps ?? ADAMW_DEFAULTS.eps;
  const wd = o.weightDecay ?? ADAMW_DEFAULTS.weightDecay;
  const g = step.graph;
  const bc1 = sub(1, pow(g.scalar(b1), step));
  const bc2Sqrt = sqrt(sub(1, pow(g.scalar(b2), step)));
  const stepSize = div(lr, bc1);
  const decay = sub(1, mul(lr, wd));
  const out = { params: [] as Value[], m: [] as Value[], v: [] as Value[] };
  params.forEach((p, i) => {
    const gr = grads[i];
    const decayed = wd ? mul(p, decay) : p;
    const m1 = add(mul(m[i], b1), mul(gr, 1 - b1));
    const v1 = add(mul(v[i], b2), mul(mul(gr, gr), 1 - b2));
    const denom = add(div(sqrt(v1), bc2Sqrt), eps);
    out.params.push(sub(decayed, mul(stepSize, div(m1, denom))));
    out.m.push(m1);
    out.v.push(v1);
  });
  return out;
}

/** torch.nn.utils.clip_grad_norm_: scales all gradients by min(1, max_norm / (‖g‖ + 1e-6)); returns the pre-clip norm. */
export function clipGradNorm(grads: Value[], maxNorm: number): { grads: Value[]; norm: Value } {
  const sq = grads.map((gr) => reduceSum(mul(gr, gr), undefined, false));
  const norm = sqrt(sq.reduce((a, b) => add(a, b)));
  const coef = min(div(maxNorm, add(norm, 1e-6)), 1);
  return { grads: grads.map((gr) => mul(gr, coef)), norm };
}
