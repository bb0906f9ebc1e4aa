import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { numel, Rng, writeSafetensors, type HostTensor } from '@npo/graph';
import { parseClipTextConfig } from '../text/clip-config.ts';
import { clipTextParameterShapes } from '../text/clip-parameters.ts';
import { writeTokenizerFolder } from '../text/tokenizer-build.ts';
import { parseUNetConfig } from '../unet/config.ts';
import { unetParameterShapes } from '../unet/parameters.ts';
import { SD15_SCHEDULER } from '../schedule/noise-schedule.ts';

/** The SDXL layout at toy size: text_time UNet 32/64 channels, two 2-layer CLIPs of width 32, pooled 32, time ids × 8. */
export const TINY_SDXL_UNET = {
  _class_name: 'UNet2DConditionModel',
  addition_embed_type: 'text_time',
  addition_time_embed_dim: 8,
  projection_class_embeddings_input_dim: 32 + 6 * 8,
  attention_head_dim: [4, 8],
  block_out_channels: [32, 64],
  cross_attention_dim: 64,
  down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D'],
  up_block_types: ['CrossAttnUpBlock2D', 'UpBlock2D'],
  mid_block_type: 'UNetMidBlock2DCrossAttn',
  transformer_layers_per_block: [1, 2],
  use_linear_projection: true,
  in_channels: 4,
  out_channels: 4,
  layers_per_block: 1,
  flip_sin_to_cos: true,
  freq_shift: 0,
  sample_size: 8,
};

/** SDXL's scheduler: EulerDiscreteScheduler in the real folder, over the same noise schedule as SD1.5 (what training reads). */
export const TINY_SDXL_SCHEDULER = { _class_name: 'EulerDiscreteScheduler', ...SD15_SCHEDULER };

const TOKENS = 8;

export interface TinySdxlOptions {
  /** Words the tokenizers know as single tokens. */
  words: string[];
  seed: number;
  /** An AutoencoderKL folder (config.json + weights) to use as vae/; its config gets SDXL's scaling_factor 0.13025 and force_upcast. */
  vaeFrom: string;
  forceZerosForEmptyPrompt?: boolean;
}

/**
 * Writes a complete SDXL diffusers folder (model_index.json naming StableDiffusionXLPipeline, unet/, vae/,
 * text_encoder/ + tokenizer/, text_encoder_2/ + tokenizer_2/ padding with "!", scheduler/) with seeded weights.
 */
export function writeTinySdxlFolder(dir: string, o: TinySdxlOptions): void {
  let stream = 0;
  const seeded = (shapes: Map<string, number[]>): Record<string, HostTensor> => {
    const out: Record<string, HostTensor> = {};
    for (const [name, shape] of shapes) {
      const data = new Float32Array(numel(shape));
      if (name.endsWith('.bias')) new Rng(o.seed, stream++).fillNormal(data, 0, 0.02);
      else if (shape.length === 1) data.fill(1); // norm scales
      else new Rng(o.seed, stream++).fillNormal(data, 0, 1 / Math.sqrt(numel(shape.slice(1))));
      out[name] = { dtype: 'float32', shape, data };
    }
    return out;
  };
  const json = (path: string, v: unknown) => {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), JSON.stringify(v, null, 2));
  };

  json('model_index.json', {
    _class_name: 'StableDiffusionXLPipeline',
    force_zeros_for_empty_prompt: o.forceZerosForEmptyPrompt ?? true,
    unet: ['diffusers', 'UNet2DConditionModel'],
    vae: ['diffusers', 'AutoencoderKL'],
    text_encoder: ['transformers', 'CLIPTextModel'],
    text_encoder_2: ['transformers', 'CLIPTextModelWithProjection'],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    tokenizer_2: ['transformers', 'CLIPTokenizer'],
    scheduler: ['diffusers', 'EulerDiscreteScheduler'],
  });
  json('unet/config.json', TINY_SDXL_UNET);
  writeSafetensors(join(dir, 'unet/diffusion_pytorch_model.safetensors'), seeded(unetParameterShapes(parseUNetConfig(TINY_SDXL_UNET))));
  json('scheduler/scheduler_config.json', TINY_SDXL_SCHEDULER);

  const { vocab } = writeTokenizerFolder(join(dir, 'tokenizer'), { words: o.words, modelMaxLength: TOKENS });
  writeTokenizerFolder(join(dir, 'tokenizer_2'), { words: o.words, modelMaxLength: TOKENS, padToken: '!' });
  for (const [part, arch, act] of [['text_encoder', 'CLIPTextModel', 'quick_gelu'], ['text_encoder_2', 'CLIPTextModelWithProjection', 'gelu']] as const) {
    const config = {
      architectures: [arch],
      model_type: 'clip_text_model',
      hidden_size: 32,
      intermediate_size: 64,
      num_attention_heads: 4,
      num_hidden_layers: 2,
      vocab_size: Object.keys(vocab).length,
      max_position_embeddings: TOKENS,
      hidden_act: act,
      layer_norm_eps: 1e-5,
      projection_dim: 32,
      bos_token_id: vocab['<|startoftext|>'],
      eos_token_id: vocab['<|endoftext|>'],
      pad_token_id: part === 'text_encoder' ? vocab['<|endoftext|>'] : vocab['!'],
    };
    json(`${part}/config.json`, config);
    writeSafetensors(join(dir, part, 'model.safetensors'), seeded(clipTextParameterShapes(parseClipTextConfig(config))));
  }

  mkdirSync(join(dir, 'vae'), { recursive: true });
  copyFileSync(join(o.vaeFrom, 'diffusion_pytorch_model.safetensors'), join(dir, 'vae/diffusion_pytorch_model.safetensors'));
  json('vae/config.json', { ...JSON.parse(readFileSync(join(o.vaeFrom, 'config.json'), 'utf8')), scaling_factor: 0.13025, force_upcast: true });
}
