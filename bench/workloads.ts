import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ADAMW_DEFAULTS, hostTensor, Rng, writeSafetensors, type HostTensor } from '@npo/graph';
import { adapterFeeds, DEFAULT_TARGETS, initLora, moduleSpecs, type LoraAdapter } from '../packages/diffusion/src/lora/adapter.ts';
import { WeightSource } from '../packages/diffusion/src/model/weights.ts';
import { alphasCumprod, SD15_SCHEDULER } from '../packages/diffusion/src/schedule/noise-schedule.ts';
import { parseUNetConfig, pooledEmbedWidth, TIME_IDS, type UNetConfig } from '../packages/diffusion/src/unet/config.ts';
import { STEP_INPUTS } from '../packages/diffusion/src/objectives/step-graph-names.ts';
import { defaultTimeIds } from '../packages/diffusion/src/unet/time-ids.ts';
import { ensureRandomUNetWeights } from './unet-weights.ts';
import { targetModuleNames } from '@npo/contracts';

export const REPO_ROOT = resolve(new URL('..', import.meta.url).pathname);
export const BENCH_DATA = join(REPO_ROOT, '.data', 'bench');

export class BenchError extends Error {
  readonly code = 'bench_usage';
  constructor(message: string) {
    super(message);
    this.name = 'BenchError';
  }
}

/** One benchmarked training step: the model, the batch shape and the hyperparameters, shared by both implementations. */
export interface Workload {
  name: string;
  /** diffusers config.json contents */
  unetConfig: Record<string, unknown>;
  /** Where the weights come from: a file in the repo, or seeded random weights generated into the cache. */
  weights: { file: string } | { randomSeed: number; dtype?: 'float32' | 'float16' };
  pairs: number;
  latentShape: [number, number, number];
  embedShape: [number, number];
  loraRank: number;
  defaultSteps: number;
}

/** The method of the NPO reference runs on SD1.5: NPO, β = 1000 (β/2 form), lr 1e-5, clip 1, AdamW wd 1e-2. */
export const STEP_HYPERPARAMETERS = {
  method: 'npo' as const,
  beta: 1000,
  lr: 1e-5,
  maxGradNorm: 1,
  adamw: ADAMW_DEFAULTS,
  prediction: 'epsilon' as const,
  warmupSteps: 2,
};

const TINY_DIR = join(REPO_ROOT, 'packages/diffusion/test/fixtures/tiny-unet/unet');
const SD15_CONFIG = JSON.parse(readFileSync(join(REPO_ROOT, 'packages/diffusion/test/fixtures/configs/sd15-unet.json'), 'utf8'));

/** SD1.5 at full size (859,520,964 UNet parameters), seeded random fp16 weights, 1 pair, 77 tokens, LoRA r 8. */
const sd15 = (name: string, latent: number): Workload => ({
  name,
  unetConfig: SD15_CONFIG,
  weights: { randomSeed: 1515, dtype: 'float16' },
  pairs: 1,
  latentShape: [4, latent, latent],
  embedShape: [77, 768],
  loraRank: 8,
  defaultSteps: 3,
});

export const WORKLOADS: Record<string, Workload> = {
  tiny: {
    name: 'tiny',
    unetConfig: JSON.parse(readFileSync(join(TINY_DIR, 'config.json'), 'utf8')),
    weights: { file: join(TINY_DIR, 'diffusion_pytorch_model.safetensors') },
    pairs: 2,
    latentShape: [4, 8, 8],
    embedShape: [7, 32],
    loraRank: 4,
    defaultSteps: 10,
  },
  // SD1.5's block layout at a fifth of its width (64/128/256/256 instead of 320/640/1280/1280), 32×32 latents.
  sd15s: {
    name: 'sd15s',
    unetConfig: {
      _class_name: 'UNet2DConditionModel',
      in_channels: 4,
      out_channels: 4,
      block_out_channels: [64, 128, 256, 256],
      down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
      up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
      mid_block_type: 'UNetMidBlock2DCrossAttn',
      layers_per_block: 2,
      attention_head_dim: 8,
      cross_attention_dim: 768,
      norm_num_groups: 32,
      norm_eps: 1e-5,
      act_fn: 'silu',
      flip_sin_to_cos: true,
      freq_shift: 0,
      downsample_padding: 1,
      mid_block_scale_factor: 1,
      center_input_sample: false,
      use_linear_projection: false,
      sample_size: 32,
    },
    weights: { randomSeed: 1234 },
    pairs: 1,
    latentShape: [4, 32, 32],
    embedShape: [77, 768],
    loraRank: 8,
    defaultSteps: 5,
  },
};

// sd15s from a float16 weights file, as full-size checkpoints ship: what onnxruntime keeps of the stored weights
// beside their float32 casts (the memory estimate's calibration, packages/diffusion step-memory.ts)
WORKLOADS['sd15s-f16'] = { ...WORKLOADS.sd15s, name: 'sd15s-f16', weights: { randomSeed: 1234, dtype: 'float16' } };
WORKLOADS.sd15 = sd15('sd15', 64);
WORKLOADS['sd15-256'] = sd15('sd15-256', 32);

const SDXL_CONFIG = JSON.parse(readFileSync(join(REPO_ROOT, 'packages/diffusion/test/fixtures/configs/sdxl-base-unet.json'), 'utf8'));
const SDXL_TINY_CONFIG = JSON.parse(readFileSync(join(REPO_ROOT, 'packages/diffusion/test/fixtures/sdxl-tiny/unet/config.json'), 'utf8'));
/** SDXL base's UNet at full size (2,567,463,684 parameters), seeded random fp16 weights, 1 pair, 64×64 latents, 77 tokens, LoRA r 8. */
WORKLOADS.sdxl = {
  name: 'sdxl', unetConfig: SDXL_CONFIG, weights: { randomSeed: 2024, dtype: 'float16' }, pairs: 1,
  latentShape: [4, 64, 64], embedShape: [77, 2048], loraRank: 8, defaultSteps: 1,
};
/** The sdxl-tiny fixture's UNet layout (text_time conditioning) with random weights: the SDXL bench path, small. */
WORKLOADS['sdxl-tiny'] = {
  name: 'sdxl-tiny', unetConfig: SDXL_TINY_CONFIG, weights: { randomSeed: 7 }, pairs: 2,
  latentShape: [4, 8, 8], embedShape: [8, 64], loraRank: 4, defaultSteps: 3,
};

/**
 * A text_time UNet's added inputs: pooled embeddings and each image's time ids, as the SDXL pipeline's default
 * micro-conditioning gives them (original = target = the resolution, crop 0); the chosen and rejected image of a
 * pair get the same ones here. Nothing for other UNets.
 */
function sdxlConditioning(config: UNetConfig, P: number, px: number, normal: (shape: number[]) => HostTensor): Record<string, HostTensor> {
  if (!config.addition) return {};
  const one = defaultTimeIds(px);
  const ids = () => hostTensor('float32', [P, TIME_IDS], Float32Array.from({ length: P * TIME_IDS }, (_, i) => one[i % TIME_IDS]));
  return {
    [STEP_INPUTS.textEmbeds]: normal([P, pooledEmbedWidth(config.addition)]),
    [STEP_INPUTS.chosenTimeIds]: ids(),
    [STEP_INPUTS.rejectedTimeIds]: ids(),
  };
}

export function getWorkload(name: string | undefined): Workload {
  const w = name ? WORKLOADS[name] : undefined;
  if (!w) throw new BenchError(`unknown workload '${name ?? ''}': choose one of ${Object.keys(WORKLOADS).join(', ')}`);
  return w;
}

/** Everything both implementations read, written once under .data/bench/<workload>/ (see workload.json). */
export interface BuiltWorkload {
  workload: Workload;
  dir: string;
  config: UNetConfig;
  weightsPath: string;
  inputsPath: string;
  adapter: LoraAdapter;
  /** chosen, rejected, noise, timesteps, embeds: the pair batch fed every step */
  batch: Record<string, HostTensor>;
}

/**
 * Writes (or reuses) the weights, one deterministic pair batch and the LoRA initialisation, plus a
 * workload.json that bench/torch_step.py reads, so both implementations run the same step on the same data.
 */
export function buildWorkload(w: Workload): BuiltWorkload {
  const dir = join(BENCH_DATA, w.name);
  mkdirSync(dir, { recursive: true });
  const config = parseUNetConfig(w.unetConfig);
  const weightsPath = 'file' in w.weights
    ? w.weights.file
    : ensureRandomUNetWeights(join(dir, 'unet', 'diffusion_pytorch_model.safetensors'), config, w.weights.randomSeed, w.weights.dtype);
  const adapter = initLora(WeightSource.fromSafetensors(weightsPath), { rank: w.loraRank, alpha: w.loraRank, targets: DEFAULT_TARGETS }, 42);

  const rng = new Rng(2024, 1);
  const P = w.pairs;
  const latent = [P, ...w.latentShape];
  const normal = (shape: number[]) => hostTensor('float32', shape, rng.fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1))));
  const batch: Record<string, HostTensor> = {
    [STEP_INPUTS.chosen]: normal(latent),
    [STEP_INPUTS.rejected]: normal(latent),
    [STEP_INPUTS.noise]: normal(latent),
    [STEP_INPUTS.timesteps]: hostTensor('int64', [P], BigInt64Array.from({ length: P }, () => BigInt(rng.int(SD15_SCHEDULER.num_train_timesteps)))),
    [STEP_INPUTS.embeds]: normal([P, ...w.embedShape]),
    ...sdxlConditioning(config, P, w.latentShape[1] * 8, normal),
  };
  const acp = alphasCumprod(SD15_SCHEDULER);
  const inputsPath = join(dir, 'inputs.safetensors');
  writeSafetensors(inputsPath, { ...batch, alphas_cumprod: hostTensor('float32', [acp.length], acp), ...adapterFeeds(adapter) });
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify(w.unetConfig, null, 2));
  const h = STEP_HYPERPARAMETERS;
  writeFileSync(join(dir, 'workload.json'), JSON.stringify({
    name: w.name,
    config_path: configPath,
    weights_path: weightsPath,
    inputs_path: inputsPath,
    pairs: P,
    latent_shape: w.latentShape,
    embed_shape: w.embedShape,
    lora: { rank: w.loraRank, alpha: w.loraRank, targets: targetModuleNames(DEFAULT_TARGETS) ?? [], modules: moduleSpecs(adapter).map((m) => m.path) },
    method: h.method,
    beta: h.beta,
    lr: h.lr,
    max_grad_norm: h.maxGradNorm,
    adamw: { betas: [h.adamw.beta1, h.adamw.beta2], eps: h.adamw.eps, weight_decay: h.adamw.weightDecay },
    prediction: h.prediction,
    warmup_steps: h.warmupSteps,
    default_steps: w.defaultSteps,
  }, null, 2));
  return { workload: w, dir, config, weightsPath, inputsPath, adapter, batch };
}
