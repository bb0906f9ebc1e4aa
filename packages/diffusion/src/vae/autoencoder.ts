import { add, chunk, clip, div, exp, mul, silu, sub, type Value } from '@npo/graph';
import { conv2dAt, groupNormAt, type ModelContext } from '../model/context.ts';
import { downsample, upsample } from '../unet/blocks.ts';
import { VAE_NORM_EPS, vaeMidBlock, vaeResnet } from './blocks.ts';
import type { VaeConfig } from './config.ts';

export interface VaeEncoding {
  /** [B, 2·latent, h, w]: encoder(image), before quant_conv */
  encoderOut: Value;
  mean: Value;
  /** clamped to [−30, 20] */
  logvar: Value;
  /** exp(0.5·logvar) */
  std: Value;
  /** (mean − shift_factor) × scaling_factor: the posterior's mode, what training uses */
  latents: Value;
}

export interface VaeDecoding {
  /** post_quant_conv(latents / scaling_factor + shift_factor) */
  postQuantConvOut: Value;
  images: Value;
}

/** How many times the encoder halves the resolution. */
export const downscale = (cfg: VaeConfig) => 2 ** (cfg.block_out_channels.length - 1);

function checkShape(x: Value, channels: number, what: string, multiple: number) {
  const [, c, h, w] = x.shape;
  if (x.rank !== 4 || c !== channels) throw new Error(`VAE: ${what} must be [B, ${channels}, H, W], got [${x.shape}]`);
  if (h % multiple || w % multiple) throw new Error(`VAE: ${what} size ${h}×${w} must be divisible by ${multiple}`);
}

/** diffusers Encoder (double_z) + quant_conv + DiagonalGaussianDistribution, on images [B, in_channels, H, W]. */
export function vaeEncode(ctx: ModelContext, cfg: VaeConfig, image: Value): VaeEncoding {
  checkShape(image, cfg.in_channels, 'image', downscale(cfg));
  const groups = cfg.norm_num_groups;
  const n = cfg.block_out_channels.length;
  let x = conv2dAt(ctx, 'encoder.conv_in', image);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < cfg.layers_per_block; j++) x = vaeResnet(ctx, `encoder.down_blocks.${i}.resnets.${j}`, x, groups);
    // Downsample2D(padding=0): zero-pad right and bottom by one, then a 3×3 stride-2 conv.
    if (i < n - 1) x = downsample(ctx, `encoder.down_blocks.${i}.downsamplers.0`, x, 0);
  }
  x = vaeMidBlock(ctx, 'encoder.mid_block', x, groups, cfg.mid_block_add_attention);
  x = silu(groupNormAt(ctx, 'encoder.conv_norm_out', x, groups, VAE_NORM_EPS));
  const encoderOut = conv2dAt(ctx, 'encoder.conv_out', x);
  const moments = cfg.use_quant_conv ? conv2dAt(ctx, 'quant_conv', encoderOut, 1, 0) : encoderOut;
  const [mean, rawLogvar] = chunk(moments, 2, 1);
  const logvar = clip(rawLogvar, -30, 20);
  const std = exp(mul(logvar, 0.5));
  const shifted = cfg.shift_factor ? sub(mean, cfg.shift_factor) : mean;
  return { encoderOut, mean, logvar, std, latents: mul(shifted, cfg.scaling_factor) };
}

/** post_quant_conv + diffusers Decoder, from scaled latents [B, latent_channels, h, w] to images. */
export function vaeDecode(ctx: ModelContext, cfg: VaeConfig, latents: Value): VaeDecoding {
  checkShape(latents, cfg.latent_channels, 'latents', 1);
  const groups = cfg.norm_num_groups;
  const n = cfg.block_out_channels.length;
  let z = div(latents, cfg.scaling_factor);
  if (cfg.shift_factor) z = add(z, cfg.shift_factor);
  const postQuantConvOut = cfg.use_post_quant_conv ? conv2dAt(ctx, 'post_quant_conv', z, 1, 0) : z;
  let x = conv2dAt(ctx, 'decoder.conv_in', postQuantConvOut);
  x = vaeMidBlock(ctx, 'decoder.mid_block', x, groups, cfg.mid_block_add_attention);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < cfg.layers_per_block + 1; j++) x = vaeResnet(ctx, `decoder.up_blocks.${i}.resnets.${j}`, x, groups);
    if (i < n - 1) x = upsample(ctx, `decoder.up_blocks.${i}.upsamplers.0`, x);
  }
  x = silu(groupNormAt(ctx, 'decoder.conv_norm_out', x, groups, VAE_NORM_EPS));
  return { postQuantConvOut, images: conv2dAt(ctx, 'decoder.conv_out', x) };
}
