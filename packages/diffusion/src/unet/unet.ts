import { add, concat, div, mul, reshape, silu, sub, type Value } from '@npo/graph';
import { conv2dAt, groupNormAt, type ModelContext } from '../model/context.ts';
import { downsample, resnetBlock, transformer2d, upsample } from './blocks.ts';
import type { AddedConditioning } from './added-conditioning.ts';
import { pooledEmbedWidth, TIME_IDS, type TextTimeConfig, type UNetConfig } from './config.ts';
import { timeMlp, timestepEmbedding } from './time.ts';

export interface UNetInputs {
  /** [B, in_channels, H, W] */
  sample: Value;
  /** float32 [B] */
  timesteps: Value;
  /** [B, tokens, cross_attention_dim] */
  encoderHiddenStates: Value;
  /** text_time UNets (SDXL): the pooled text embedding [B, pooled] and the micro-conditioning [B, 6], per sample. */
  added?: AddedConditioning;
}

/** UNet2DConditionModel.forward (diffusers 0.26 semantics) as graph nodes; returns the prediction [B, out, H, W]. */
export function unetForward(ctx: ModelContext, cfg: UNetConfig, { sample, timesteps, encoderHiddenStates: ctxStates, added }: UNetInputs): Value {
  const { g } = ctx;
  const n = cfg.block_out_channels.length;
  const [, , h, w] = sample.shape;
  if (h % 2 ** (n - 1) || w % 2 ** (n - 1))
    throw new Error(`UNet: sample size ${h}×${w} must be divisible by ${2 ** (n - 1)} (${n - 1} downsamplings)`);
  if (ctxStates.shape[2] !== cfg.cross_attention_dim)
    throw new Error(`UNet: encoder_hidden_states have ${ctxStates.shape[2]} features, cross_attention_dim is ${cfg.cross_attention_dim}`);
  const groups = cfg.norm_num_groups;
  const eps = cfg.norm_eps;
  let temb = g.module('time_embedding', () =>
    timeMlp(ctx, 'time_embedding', timestepEmbedding(g, timesteps, cfg.block_out_channels[0], cfg.flip_sin_to_cos, cfg.freq_shift)),
  );
  if (cfg.addition) {
    if (!added) throw new Error('UNet: this config has addition_embed_type "text_time"; text_embeds and time_ids are required');
    temb = add(temb, textTimeEmbedding(ctx, cfg, cfg.addition, added, sample.shape[0]));
  } else if (added) throw new Error('UNet: text_embeds/time_ids were given but the config has no addition_embed_type');

  let x = cfg.center_input_sample ? sub(mul(sample, 2), 1) : sample;
  x = conv2dAt(ctx, 'conv_in', x);
  const skips: Value[] = [x];
  cfg.down_block_types.forEach((type, i) => {
    const path = `down_blocks.${i}`;
    for (let j = 0; j < cfg.layers_per_block; j++) {
      x = resnetBlock(ctx, `${path}.resnets.${j}`, x, temb, groups, eps);
      if (type === 'CrossAttnDownBlock2D')
        x = transformer2d(ctx, `${path}.attentions.${j}`, x, ctxStates, cfg.heads[i], cfg.transformer_layers_per_block[i], groups, cfg.use_linear_projection);
      skips.push(x);
    }
    if (i < n - 1) {
      x = downsample(ctx, `${path}.downsamplers.0`, x, cfg.downsample_padding);
      skips.push(x);
    }
  });

  x = resnetBlock(ctx, 'mid_block.resnets.0', x, temb, groups, eps);
  x = transformer2d(ctx, 'mid_block.attentions.0', x, ctxStates, cfg.heads[n - 1], cfg.transformer_layers_per_block[n - 1], groups, cfg.use_linear_projection);
  x = resnetBlock(ctx, 'mid_block.resnets.1', x, temb, groups, eps);
  if (cfg.mid_block_scale_factor !== 1) x = div(x, cfg.mid_block_scale_factor);

  const reversedHeads = [...cfg.heads].reverse();
  const reversedLayers = [...cfg.transformer_layers_per_block].reverse();
  cfg.up_block_types.forEach((type, i) => {
    const path = `up_blocks.${i}`;
    for (let j = 0; j < cfg.layers_per_block + 1; j++) {
      x = concat([x, skips.pop()!], 1);
      x = resnetBlock(ctx, `${path}.resnets.${j}`, x, temb, groups, eps);
      if (type === 'CrossAttnUpBlock2D')
        x = transformer2d(ctx, `${path}.attentions.${j}`, x, ctxStates, reversedHeads[i], reversedLayers[i], groups, cfg.use_linear_projection);
    }
    if (i < n - 1) x = upsample(ctx, `${path}.upsamplers.0`, x);
  });

  x = silu(groupNormAt(ctx, 'conv_norm_out', x, groups, eps));
  return conv2dAt(ctx, 'conv_out', x);
}


/**
 * diffusers' text_time embedding: add_time_proj (the timestep sinusoid, with the UNet's flip_sin_to_cos and
 * freq_shift) of every time id, flattened per sample beside the pooled text embedding, through add_embedding.
 */
function textTimeEmbedding(ctx: ModelContext, cfg: UNetConfig, addition: TextTimeConfig, added: AddedConditioning, batch: number): Value {
  const { textEmbeds, timeIds } = added;
  const pooled = pooledEmbedWidth(addition);
  if (textEmbeds.shape.join() !== [batch, pooled].join())
    throw new Error(`UNet: text_embeds are [${textEmbeds.shape}], expected [${batch}, ${pooled}] (projection_class_embeddings_input_dim − ${TIME_IDS} × addition_time_embed_dim)`);
  if (timeIds.shape.join() !== [batch, TIME_IDS].join()) throw new Error(`UNet: time_ids are [${timeIds.shape}], expected [${batch}, ${TIME_IDS}]`);
  return ctx.g.module('add_embedding', () => {
    const d = addition.time_embed_dim;
    const sinusoids = timestepEmbedding(ctx.g, reshape(timeIds, [batch * TIME_IDS]), d, cfg.flip_sin_to_cos, cfg.freq_shift);
    return timeMlp(ctx, 'add_embedding', concat([textEmbeds, reshape(sinusoids, [batch, TIME_IDS * d])], 1));
  });
}
