import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TextEncoder, writeTokenizerFolder } from '@npo/diffusion';
import { numel, Rng, writeSafetensors, type HostTensor } from '@npo/graph';
import { latestCheckpoint, runTraining, type StepMetrics } from '@npo/trainer';
import { PROMPTS } from '../world.ts';

/** MINIATURE.md's UNet: pixel space (3 channels), 32/64 channels, one attention level, 985k parameters. */
export const TINY_SD_UNET = {
  _class_name: 'UNet2DConditionModel',
  in_channels: 3,
  out_channels: 3,
  block_out_channels: [32, 64],
  layers_per_block: 1,
  down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D'],
  up_block_types: ['CrossAttnUpBlock2D', 'UpBlock2D'],
  mid_block_type: 'UNetMidBlock2DCrossAttn',
  cross_attention_dim: 32,
  attention_head_dim: 8,
  norm_num_groups: 32,
  norm_eps: 1e-5,
  flip_sin_to_cos: true,
  freq_shift: 0,
  act_fn: 'silu',
  use_linear_projection: false,
  sample_size: 16,
};

/** Linear betas 1e-4…0.02, T = 1000; DDIM clips x0 to [−1, 1] (pixel space needs it) and ends at ᾱ = 1. */
export const TINY_SD_SCHEDULER = {
  _class_name: 'DDIMScheduler',
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  prediction_type: 'epsilon',
  clip_sample: true,
  clip_sample_range: 1.0,
  set_alpha_to_one: true,
  steps_offset: 1,
  timestep_spacing: 'leading',
};

const TEXT_HIDDEN = 32;
const TEXT_TOKENS = 8;

/** The frozen, seeded text side of tiny-sd: a tokenizer whose words are the prompts' words, and a 2-layer CLIP. */
export function writeTextParts(dir: string, seed: number): void {
  const { vocab } = writeTokenizerFolder(join(dir, 'tokenizer'), { words: PROMPTS.map((p) => p.text), modelMaxLength: TEXT_TOKENS });
  const V = Object.keys(vocab).length;
  const layers = 2;
  const inter = 64;
  const config = {
    architectures: ['CLIPTextModel'],
    model_type: 'clip_text_model',
    hidden_size: TEXT_HIDDEN,
    intermediate_size: inter,
    num_attention_heads: 4,
    num_hidden_layers: layers,
    vocab_size: V,
    max_position_embeddings: TEXT_TOKENS,
    hidden_act: 'quick_gelu',
    layer_norm_eps: 1e-5,
    bos_token_id: vocab['<|startoftext|>'],
    eos_token_id: vocab['<|endoftext|>'],
    pad_token_id: vocab['<|endoftext|>'],
  };
  mkdirSync(join(dir, 'text_encoder'), { recursive: true });
  writeFileSync(join(dir, 'text_encoder/config.json'), JSON.stringify(config, null, 2));
  let stream = 0;
  const normal = (shape: number[], std: number): HostTensor => {
    return { dtype: 'float32', shape, data: new Rng(seed, stream++).fillNormal(new Float32Array(numel(shape)), 0, std) };
  };
  const fill = (shape: number[], v: number): HostTensor => ({ dtype: 'float32', shape, data: new Float32Array(numel(shape)).fill(v) });
  const D = TEXT_HIDDEN;
  // Token embeddings at unit scale so words, not positions, dominate each prompt's embedding.
  const w: Record<string, HostTensor> = {
    'text_model.embeddings.token_embedding.weight': normal([V, D], 1),
    'text_model.embeddings.position_embedding.weight': normal([TEXT_TOKENS, D], 0.02),
    'text_model.final_layer_norm.weight': fill([D], 1),
    'text_model.final_layer_norm.bias': fill([D], 0),
  };
  for (let l = 0; l < layers; l++) {
    const p = `text_model.encoder.layers.${l}`;
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      w[`${p}.self_attn.${proj}.weight`] = normal([D, D], 1 / Math.sqrt(D));
      w[`${p}.self_attn.${proj}.bias`] = fill([D], 0);
    }
    for (const ln of ['layer_norm1', 'layer_norm2']) {
      w[`${p}.${ln}.weight`] = fill([D], 1);
      w[`${p}.${ln}.bias`] = fill([D], 0);
    }
    w[`${p}.mlp.fc1.weight`] = normal([inter, D], 1 / Math.sqrt(D));
    w[`${p}.mlp.fc1.bias`] = fill([inter], 0);
    w[`${p}.mlp.fc2.weight`] = normal([D, inter], 1 / Math.sqrt(inter));
    w[`${p}.mlp.fc2.bias`] = fill([D], 0);
  }
  writeSafetensors(join(dir, 'text_encoder/model.safetensors'), w, { format: 'pt', seed: String(seed) });
}

export function writeModelConfigs(dir: string): void {
  mkdirSync(join(dir, 'unet'), { recursive: true });
  mkdirSync(join(dir, 'scheduler'), { recursive: true });
  writeFileSync(join(dir, 'unet/config.json'), JSON.stringify(TINY_SD_UNET, null, 2));
  writeFileSync(join(dir, 'scheduler/scheduler_config.json'), JSON.stringify(TINY_SD_SCHEDULER, null, 2));
  writeFileSync(
    join(dir, 'model_index.json'),
    JSON.stringify(
      {
        _class_name: 'StableDiffusionPipeline',
        _npo_forge: 'pixel-space model of the shapes world (no vae/); see packages/shapes/README.md',
        unet: ['diffusers', 'UNet2DConditionModel'],
        text_encoder: ['transformers', 'CLIPTextModel'],
        tokenizer: ['transformers', 'CLIPTokenizer'],
        scheduler: ['diffusers', 'DDIMScheduler'],
      },
      null,
      2,
    ),
  );
}

/** [13, T, D]: the 12 prompts' embeddings in PROMPTS order, then the empty prompt's (the unconditional one). */
export async function promptEmbeddings(modelDir: string, workDir: string): Promise<{ table: Float32Array; embedShape: number[] }> {
  const enc = await TextEncoder.create(modelDir, { workDir, batch: PROMPTS.length + 1 });
  const out = await enc.encode([...PROMPTS.map((p) => p.text), '']);
  return { table: out.lastHiddenState, embedShape: [enc.sequenceLength, TEXT_HIDDEN] };
}

export interface PretrainOptions {
  steps: number;
  batch: number;
  learningRate: number;
  warmup: number;
  seed: number;
  workDir: string;
  threads?: number;
  onStep?: (m: StepMetrics) => void;
}

/** MINIATURE.md step 1: full-parameter eps-MSE training on fresh random scenes, prompt dropout 0.15. */
export async function pretrainUNet(modelDir: string, o: PretrainOptions): Promise<void> {
  const { table, embedShape } = await promptEmbeddings(modelDir, join(o.workDir, 'text'));
  let last: string | null = null;
  await runTraining(
    {
      kind: 'pretrain',
      unetConfig: TINY_SD_UNET,
      scheduler: TINY_SD_SCHEDULER,
      source: { module: new URL('../train-source.ts', import.meta.url).href, options: { embeddings: table, embedShape } },
      hp: { batch_pairs: o.batch, seed: o.seed, max_grad_norm: 1, weight_decay: 1e-2, prompt_dropout: 0.15 },
      workDir: o.workDir,
    },
    {
      hp: { steps: o.steps, learning_rate: o.learningRate, warmup_steps: o.warmup, lr_schedule: 'constant', checkpoint_every: 100, seed: o.seed },
      checkpointRoot: join(o.workDir, 'checkpoints'),
      // A build that was interrupted continues from its last checkpoint, exactly.
      resumeFromDir: latestCheckpoint(join(o.workDir, 'checkpoints')) ?? undefined,
      threads: o.threads,
    },
    { onStep: o.onStep, onCheckpoint: async (c) => void (last = c.files[0]) },
  );
  if (!last) throw new Error('pretraining wrote no checkpoint');
  copyFileSync(last, join(modelDir, 'unet/diffusion_pytorch_model.safetensors'));
}
