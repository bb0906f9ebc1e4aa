import { add, cast, conv, groupNorm, layerNorm, linear, mul, reshape, scaledDotProductAttention, transpose, type AttentionOptions, type DType, type Graph, type Value } from '@npo/graph';
import { loraKey, type LoraModuleSpec } from '../lora/adapter.ts';
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
  /** How long-sequence attention is chunked and checkpointed (defaults: packages/graph attention.ts). */
  attention?: AttentionMemory;
  /** Build every resnet and transformer block as an activation-checkpoint region: less memory, one more forward. */
  checkpointBlocks?: boolean;
  /**
   * Mixed precision (model/precision.ts): the element type of the frozen weights of Conv and Linear layers and of
   * their products, and of attention's two matmuls. Their inputs are cast to it and their results back to float32,
   * so norms, softmax, residual sums, LoRA branches and the loss stay float32. Default float32: no casts at all.
   */
  compute?: DType;
}

export type AttentionMemory = Pick<AttentionOptions, 'chunkElements' | 'checkpointElements'>;

/** Graph inputs for an adapter's A [rank, in] and B [out, rank] per module, named `name(loraKey(path, part))`. */
export function loraInputs(g: Graph, modules: LoraModuleSpec[], rank: number, name = (key: string) => key): LoraValues['modules'] {
  const out: LoraValues['modules'] = new Map();
  for (const m of modules)
    out.set(m.path, {
      A: g.input(name(loraKey(m.path, 'A')), 'float32', [rank, m.in]),
      B: g.input(name(loraKey(m.path, 'B')), 'float32', [m.out, rank]),
    });
  return out;
}

export const param = (ctx: ModelContext, name: string, shape?: number[]) => ctx.weights.param(ctx.g, name, shape);

export function optionalParam(ctx: ModelContext, name: string): Value | null {
  return ctx.weights.has(name) ? param(ctx, name) : null;
}

/** The frozen weight `name` in the compute dtype of Conv/Linear layers (float32 unless mixed precision). */
const computeParam = (ctx: ModelContext, name: string) => ctx.weights.param(ctx.g, name, undefined, lowPrecision(ctx) ?? 'float32');
const optionalComputeParam = (ctx: ModelContext, name: string) => (ctx.weights.has(name) ? computeParam(ctx, name) : null);
const lowPrecision = (ctx: ModelContext): DType | null => (ctx.compute && ctx.compute !== 'float32' ? ctx.compute : null);

/** `f` (a Conv or Gemm of frozen weights) on x cast to the compute dtype, its result cast back to x's (float32). */
function inComputeDtype(ctx: ModelContext, x: Value, f: (x: Value) => Value): Value {
  const low = lowPrecision(ctx);
  return low ? cast(f(cast(x, low)), x.dtype) : f(x);
}

/** torch.nn.Linear at `path`, plus every adapter's (scale)·B(A x) when it targets this module (in float32). */
export function linearAt(ctx: ModelContext, path: string, x: Value): Value {
  return ctx.g.module(path, () => {
    let y = inComputeDtype(ctx, x, (xc) => linear(xc, computeParam(ctx, `${path}.weight`), optionalComputeParam(ctx, `${path}.bias`)));
    for (const adapter of ctx.adapters) {
      const m = adapter.modules.get(path);
      if (!m) continue;
      const delta = linear(linear(x, m.A), m.B);
      y = add(y, adapter.scale === 1 ? delta : mul(delta, adapter.scale));
    }
    return y;
  });
}

/** torch.nn.Conv2d at `path` with the given stride and symmetric padding. */
export function conv2dAt(ctx: ModelContext, path: string, x: Value, stride = 1, padding?: number): Value {
  return ctx.g.module(path, () => {
    const w = computeParam(ctx, `${path}.weight`);
    const p = padding ?? Math.floor((w.shape[2] - 1) / 2);
    return inComputeDtype(ctx, x, (xc) => conv(xc, w, optionalComputeParam(ctx, `${path}.bias`), { strides: [stride, stride], pads: [p, p, p, p] }));
  });
}

export function groupNormAt(ctx: ModelContext, path: string, x: Value, groups: number, eps: number): Value {
  return ctx.g.module(path, () => groupNorm(x, groups, param(ctx, `${path}.weight`), param(ctx, `${path}.bias`), eps));
}

export function layerNormAt(ctx: ModelContext, path: string, x: Value, eps = 1e-5): Value {
  return ctx.g.module(path, () => layerNorm(x, param(ctx, `${path}.weight`), param(ctx, `${path}.bias`), -1, eps));
}

/**
 * Scaled dot-product attention over `heads` heads of projected q [B, N, C] and k, v [B, M, C]:
 * softmax(q·kᵀ/√d + mask)·v per head, heads merged back to [B, N, C].
 */
export function multiHeadAttention(q: Value, k: Value, v: Value, heads: number, mask: Value | null = null, memory: AttentionMemory = {}, compute?: DType): Value {
  const [b, n, c] = q.shape;
  const m = k.shape[1];
  const d = c / heads;
  const qh = transpose(reshape(q, [b, n, heads, d]), [0, 2, 1, 3]);
  const kh = transpose(reshape(k, [b, m, heads, d]), [0, 2, 3, 1]);
  const vh = transpose(reshape(v, [b, m, heads, d]), [0, 2, 1, 3]);
  // query-chunked, and checkpointed in training graphs where the maps are large (packages/graph attention.ts)
  const out = scaledDotProductAttention(qh, kh, vh, { ...memory, scale: 1 / Math.sqrt(d), mask, ...(compute && compute !== 'float32' && { compute }) });
  return reshape(transpose(out, [0, 2, 1, 3]), [b, n, c]);
}
