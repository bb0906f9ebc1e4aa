import { add, gelu, mul, pad, reshape, resizeNearest, silu, split, transpose, unsqueeze, type Value } from '@npo/graph';
import { conv2dAt, groupNormAt, layerNormAt, linearAt, multiHeadAttention, optionalParam, type ModelContext } from '../model/context.ts';

/** diffusers ResnetBlock2D (time_embedding_norm "default", output_scale_factor 1); `temb` null: no time embedding (the VAE's). */
export function resnetBlock(ctx: ModelContext, path: string, x: Value, temb: Value | null, groups: number, eps: number): Value {
  return ctx.g.module(path, () => blockCheckpoint(ctx, () => {
    let h = conv2dAt(ctx, `${path}.conv1`, silu(groupNormAt(ctx, `${path}.norm1`, x, groups, eps)));
    if (temb) h = add(h, unsqueeze(linearAt(ctx, `${path}.time_emb_proj`, silu(temb)), [2, 3]));
    h = conv2dAt(ctx, `${path}.conv2`, silu(groupNormAt(ctx, `${path}.norm2`, h, groups, eps)));
    const shortcut = optionalParam(ctx, `${path}.conv_shortcut.weight`) ? conv2dAt(ctx, `${path}.conv_shortcut`, x, 1, 0) : x;
    return add(shortcut, h);
  }));
}

/** diffusers Attention (AttnProcessor semantics): softmax(q kᵀ / √d) v over `heads` heads. */
export function attention(ctx: ModelContext, path: string, x: Value, context: Value | null, heads: number): Value {
  return ctx.g.module(path, () => {
    const kv = context ?? x;
    const q = linearAt(ctx, `${path}.to_q`, x);
    const k = linearAt(ctx, `${path}.to_k`, kv);
    const v = linearAt(ctx, `${path}.to_v`, kv);
    return linearAt(ctx, `${path}.to_out.0`, multiHeadAttention(q, k, v, heads, null, ctx.attention, ctx.compute));
  });
}

/** diffusers BasicTransformerBlock: self-attention, cross-attention, GEGLU feed-forward, pre-LayerNorm each. */
export function transformerBlock(ctx: ModelContext, path: string, x: Value, context: Value, heads: number): Value {
  return ctx.g.module(path, () => blockCheckpoint(ctx, () => {
    x = add(attention(ctx, `${path}.attn1`, layerNormAt(ctx, `${path}.norm1`, x), null, heads), x);
    x = add(attention(ctx, `${path}.attn2`, layerNormAt(ctx, `${path}.norm2`, x), context, heads), x);
    const proj = linearAt(ctx, `${path}.ff.net.0.proj`, layerNormAt(ctx, `${path}.norm3`, x));
    const half = proj.shape[2] / 2;
    const [hidden, gate] = split(proj, [half, half], 2);
    return add(linearAt(ctx, `${path}.ff.net.2`, mul(hidden, gelu(gate))), x);
  }));
}

/** With `ctx.checkpointBlocks`, a resnet or transformer block is one activation-checkpoint region (recomputed in the backward). */
function blockCheckpoint(ctx: ModelContext, fn: () => Value): Value {
  return ctx.checkpointBlocks ? ctx.g.checkpoint(fn) : fn();
}

/** diffusers Transformer2DModel over an NCHW feature map (1×1-conv or linear projections). */
export function transformer2d(
  ctx: ModelContext, path: string, x: Value, context: Value, heads: number, layers: number, groups: number, linearProjection: boolean,
): Value {
  return ctx.g.module(path, () => {
    const [b, c, hgt, wid] = x.shape;
    const toTokens = (v: Value) => reshape(transpose(v, [0, 2, 3, 1]), [b, hgt * wid, c]);
    const toMap = (v: Value) => transpose(reshape(v, [b, hgt, wid, c]), [0, 3, 1, 2]);
    const normed = groupNormAt(ctx, `${path}.norm`, x, groups, 1e-6);
    let h = linearProjection ? linearAt(ctx, `${path}.proj_in`, toTokens(normed)) : toTokens(conv2dAt(ctx, `${path}.proj_in`, normed, 1, 0));
    for (let i = 0; i < layers; i++) h = transformerBlock(ctx, `${path}.transformer_blocks.${i}`, h, context, heads);
    const out = linearProjection ? toMap(linearAt(ctx, `${path}.proj_out`, h)) : conv2dAt(ctx, `${path}.proj_out`, toMap(h), 1, 0);
    return add(out, x);
  });
}

/** diffusers Downsample2D: a stride-2 3×3 conv; with padding 0 it first pads right and bottom by one, as diffusers does. */
export function downsample(ctx: ModelContext, path: string, x: Value, padding: number): Value {
  const input = padding === 0 ? pad(x, [0, 0, 0, 0, 0, 0, 1, 1]) : x;
  return conv2dAt(ctx, `${path}.conv`, input, 2, padding);
}

export function upsample(ctx: ModelContext, path: string, x: Value): Value {
  return conv2dAt(ctx, `${path}.conv`, resizeNearest(x, [1, 1, 2, 2]), 1, 1);
}
