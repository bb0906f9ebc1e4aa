import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelFolderInfo, ModelKind } from '@npo/contracts';

// The one reader of a diffusers-layout model folder: every part of the service that asks "which kind of model",
// "is there a VAE", "which weights file", "what sample size" asks here (the worker's validation, the trainer, the
// sampler, the built-in model registration, and through the stored info the API's defaults). It reads configs
// only, never weights, and imports nothing heavier than node:fs, so the API process can load it (the package's
// `@npo/diffusion/model-folder` export) without onnxruntime.

export type ModelPart = 'unet' | 'vae' | 'text_encoder' | 'text_encoder_2' | 'tokenizer' | 'tokenizer_2' | 'scheduler';
export type WeightsPart = 'unet' | 'vae' | 'text_encoder' | 'text_encoder_2';

/** What an SD1.x/2.x folder needs; vae/ is optional (without it the UNet works on RGB pixels), scheduler/ too. */
export const SD_PARTS = ['unet', 'text_encoder', 'tokenizer'] as const satisfies readonly ModelPart[];
/** StableDiffusionXLPipeline's seven parts, all required. */
export const SDXL_PARTS = ['unet', 'vae', 'text_encoder', 'text_encoder_2', 'tokenizer', 'tokenizer_2', 'scheduler'] as const satisfies readonly ModelPart[];
export const SDXL_PIPELINE = 'StableDiffusionXLPipeline';

const DIFFUSERS_WEIGHTS = ['diffusion_pytorch_model.safetensors', 'diffusion_pytorch_model.fp16.safetensors'] as const;
const TRANSFORMERS_WEIGHTS = ['model.safetensors', 'model.fp16.safetensors'] as const;
/** The weight files each part may have, in order of preference: diffusers' names for its models, transformers' for the CLIPs, fp16 variants second. */
export const WEIGHT_FILES: Readonly<Record<WeightsPart, readonly string[]>> = {
  unet: DIFFUSERS_WEIGHTS, vae: DIFFUSERS_WEIGHTS, text_encoder: TRANSFORMERS_WEIGHTS, text_encoder_2: TRANSFORMERS_WEIGHTS,
};

/** Where each part's config lives. */
export const CONFIG_FILES = {
  model_index: 'model_index.json', unet: 'unet/config.json', vae: 'vae/config.json', text_encoder: 'text_encoder/config.json',
  text_encoder_2: 'text_encoder_2/config.json', scheduler: 'scheduler/scheduler_config.json',
} as const;
export type ConfigName = keyof typeof CONFIG_FILES;

/** OpenCLIP ViT-H/14's width: the cross-attention width of every SD2.x UNet (SD1.x's CLIP ViT-L is 768). */
const SD2_CROSS_ATTENTION_DIM = 1024;

export type RawConfig = Record<string, any>;

export interface ModelFolderReading {
  dir: string;
  info: ModelFolderInfo;
  /** model_index.json's `_class_name`; null without model_index.json. */
  pipelineClass: string | null;
  /** The parts this kind of folder must have. */
  requiredParts: readonly ModelPart[];
  /** Each config that was read (parsed, not validated); absent when missing or unreadable. */
  configs: Partial<Record<ConfigName, RawConfig>>;
  /** Absolute path of each part's weights file (WEIGHT_FILES' first present), when there is one. */
  weightsPaths: Partial<Record<WeightsPart, string>>;
  /** Configs that should be there and could not be read, each naming its file ("unet/config.json is missing"). */
  problems: string[];
}

/** The weights file `part` uses: the first of WEIGHT_FILES[part] present in its folder, or null. */
export function partWeightsFile(dir: string, part: WeightsPart): string | null {
  return WEIGHT_FILES[part].find((f) => existsSync(join(dir, part, f))) ?? null;
}

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();

/**
 * Which family a folder holds. SDXL: model_index.json names StableDiffusionXLPipeline, or the UNet takes text_time
 * conditioning (verify:reference's fixtures have no model_index.json). Otherwise SD2 when the UNet cross-attends to
 * OpenCLIP ViT-H's 1024-wide states, else SD1.x (which includes toy models like the built-in tiny-sd).
 */
export function modelKindOf(pipelineClass: string | null, unet: RawConfig | undefined): ModelKind {
  if (pipelineClass === SDXL_PIPELINE || unet?.addition_embed_type === 'text_time') return 'sdxl';
  return unet?.cross_attention_dim === SD2_CROSS_ATTENTION_DIM ? 'sd2' : 'sd15';
}

export function readModelFolder(dir: string): ModelFolderReading {
  const problems: string[] = [];
  const configs: Partial<Record<ConfigName, RawConfig>> = {};
  const read = (name: ConfigName, required: boolean) => {
    const rel = CONFIG_FILES[name];
    const path = join(dir, rel);
    if (!existsSync(path)) {
      if (required) problems.push(`${rel} is missing`);
      return;
    }
    try {
      configs[name] = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      problems.push(`${rel} is not valid JSON: ${(err as Error).message}`);
    }
  };
  read('model_index', false);
  read('unet', true);
  const pipelineClass = typeof configs.model_index?._class_name === 'string' ? configs.model_index._class_name : null;
  const kind = modelKindOf(pipelineClass, configs.unet);
  const sdxl = kind === 'sdxl';
  // a vae/ folder declares a VAE (then its config and weights must be there); SDXL always has one
  const hasVae = sdxl || isDir(join(dir, 'vae'));
  read('text_encoder', true);
  if (sdxl) read('text_encoder_2', true);
  if (hasVae) read('vae', true);
  read('scheduler', sdxl);

  const weightsPaths: Partial<Record<WeightsPart, string>> = {};
  const weights: Record<string, string> = {};
  for (const part of ['unet', 'vae', 'text_encoder', 'text_encoder_2'] as const) {
    const file = partWeightsFile(dir, part);
    if (!file) continue;
    weights[part] = file;
    weightsPaths[part] = join(dir, part, file);
  }
  const unet = configs.unet;
  const sample = Array.isArray(unet?.sample_size) ? unet.sample_size[0] : unet?.sample_size;
  const vaeBlocks = configs.vae?.block_out_channels;
  const info: ModelFolderInfo = {
    kind,
    pixelSpace: !hasVae,
    hasVae,
    sampleSize: Number(sample ?? 0),
    vaeScaleFactor: hasVae ? (Array.isArray(vaeBlocks) && vaeBlocks.length ? 2 ** (vaeBlocks.length - 1) : null) : null,
    inChannels: typeof unet?.in_channels === 'number' ? unet.in_channels : 4,
    outChannels: typeof unet?.out_channels === 'number' ? unet.out_channels : 4,
    weights,
  };
  return { dir, info, pipelineClass, requiredParts: sdxl ? SDXL_PARTS : SD_PARTS, configs, weightsPaths, problems };
}

