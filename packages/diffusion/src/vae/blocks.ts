import { add, linear, matmul, mul, reshape, softmax, transpose, type Value } from '@npo/graph';
import { groupNormAt, linearAt, optionalParam, param, type ModelContext } from '../model/context.ts';
import { resnetBlock } from '../unet/blocks.ts';

/** Every GroupNorm of diffusers' VAE encoder and decoder uses this epsilon (resnets, attention, conv_norm_out). */
export const VAE_NORM_EPS = 1e-6;

/** diffusers ResnetBlock2D without a time embedding: shortcut(x) + conv2(silu(norm2(conv1(silu(norm1(x)))))). */
export function vaeResnet(ctx: ModelContext, path: string, x: Value, groups: number): Value {
  return resnetBlock(ctx, path, x, null, groups, VAE_NORM_EPS);
}

/** A Linear that also accepts the [out, in, 1, 1] kernels some converted checkpoints store for these projections. */
function projection(ctx: ModelContext, path: string, x: Value): Value {
  const w = param(ctx, `${path}.weight`);
  if (w.rank === 2) return linearAt(ctx, path, x);
  if (w.rank === 4 && w.shape[2] === 1 && w.shape[3] === 1)
    return ctx.g.module(path, () => linear(x, reshape(w, [w.shape[0], w.shape[1]]), optionalParam(ctx, `${path}.bias`)));
  throw new Error(`VAE attention: '${path}.weight' has shape [${w.shape}], expected [C, C] or [C, C, 1, 1]`);
}

/**
 * The VAE mid-block attention (diffusers Attention with one head of C channels): GroupNorm, then
 * softmax(q·kᵀ/√C)·v over the H·W positions, to_out.0, residual add.
 */
export function vaeAttention(ctx: ModelContext, path: string, x: Value, groups: number): Value {
  return ctx.g.module(path, () => {
    const [b, c, h, w] = x.shape;
    const normed = groupNormAt(ctx, `${path}.group_norm`, x, groups, VAE_NORM_EPS);
    const tokens = transpose(reshape(normed, [b, c, h * w]), [0, 2, 1]);
    const q = projection(ctx, `${path}.to_q`, tokens);
    const k = projection(ctx, `${path}.to_k`, tokens);
    const v = projection(ctx, `${path}.to_v`, tokens);
    const probs = softmax(mul(matmul(q, transpose(k, [0, 2, 1])), 1 / Math.sqrt(c)), -1);
    const out = projection(ctx, `${path}.to_out.0`, matmul(probs, v));
    return add(reshape(transpose(out, [0, 2, 1]), [b, c, h, w]), x);
  });
}

/** UNetMidBlock2D of the VAE: resnet, (attention), resnet. */
export function vaeMidBlock(ctx: ModelContext, path: string, x: Value, groups: number, withAttention: boolean): Value {
  x = vaeResnet(ctx, `${path}.resnets.0`, x, groups);
  if (withAttention) x = vaeAttention(ctx, `${path}.attentions.0`, x, groups);
  return vaeResnet(ctx, `${path}.resnets.1`, x, groups);
}
