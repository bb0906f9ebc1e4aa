import { add, conv, groupNorm, layerNorm, linear, mul, type Graph, type Value } from '@npo/graph';
import type { WeightSource } from './weights.ts';

/** One LoRA adapter as graph values: per targeted module path, A [r, in] and B [out, r]. */
export interface LoraValues {
  modules: Map<string, { A: Value; B: Value }>;
  /** alpha / r, optionally times a per-sample scale ([batch, 1, 1] value) so one batch can mix adapter on/off. */
  scale: Value | number;
}

/**
 * What model code needs to build a graph: the graph, the weights by diffusers name, and the adapters to
 * add on top. Module functions take the module's path; the tensors they read are `${path}.weight` etc.
 */
export interface ModelContext {
  g: Graph;
  weights: WeightSource;
  adapters: LoraValues[];
}

export const param = (ctx: ModelContext, name: string, shape?: number[]) => ctx.weights.param(ctx.g, name, shape);

export function optionalParam(ctx: ModelContext, name: string): Value | null {
  return ctx.weights.has(name) ? param(ctx, name) : null;
}

/** torch.nn.Linear at `path`, plus every adapter's (scale)·B(A x) when it targets this module. */
export function linearAt(ctx: ModelContext, path: string, x: Value): Value {
  return ctx.g.module(path, () => {
    let y = linear(x, param(ctx, `${path}.weight`), optionalParam(ctx, `${path}.bias`));
    for (const adapter of ctx.adapters) {
      const m = adapter.modules.get(path);
      if (!m) continue;
      const delta = linear(linear(x, m.A), m.B);
      y = add(y, typeof adapter.scale === 'number' && adapter.scale === 1 ? delta : mul(delta, adapter.scale));
    }
    return y;
  });
}

/** torch.nn.Conv2d at `path` with the given stride and symmetric padding. */
export function conv2dAt(ctx: ModelContext, path: string, x: Value, stride = 1, padding?: number): Value {
  return ctx.g.module(path, () => {
    const w = param(ctx, `${path}.weight`);
    const p = padding ?? Math.floor((w.shape[2] - 1) / 2);
    return conv(x, w, optionalParam(ctx, `${path}.bias`), { strides: [stride, stride], pads: [p, p, p, p] });
  });
}

export function groupNormAt(ctx: ModelContext, path: string, x: Value, groups: number, eps: number): Value {
  return ctx.g.module(path, () => groupNorm(x, groups, param(ctx, `${path}.weight`), param(ctx, `${path}.bias`), eps));
}

export function layerNormAt(ctx: ModelContext, path: string, x: Value, eps = 1e-5): Value {
  return ctx.g.module(path, () => layerNorm(x, param(ctx, `${path}.weight`), param(ctx, `${path}.bias`), -1, eps));
}
