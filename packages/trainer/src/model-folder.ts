import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  ConfigError, parseSchedulerConfig, parseUNetConfig, SD15_SCHEDULER, type SchedulerConfig, type UNetConfig,
} from '@npo/diffusion';
import { InputError } from '@npo/contracts';
import { SafetensorsFile } from '@npo/graph';

/** A diffusers model folder as the trainer uses it. */
export interface ModelFolder {
  dir: string;
  unetConfig: UNetConfig;
  unetWeights: string;
  scheduler: SchedulerConfig;
  /** No vae/: the UNet works on RGB pixels directly (e.g. the built-in tiny-sd). */
  pixelSpace: boolean;
  hasTextEncoder: boolean;
}

export class ModelFolderError extends InputError {
  constructor(message: string) {
    super(message, {}, 'invalid_model', 422);
  }
}

function readJson(path: string): Record<string, unknown> {
  if (!existsSync(path)) throw new ModelFolderError(`missing ${path}`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new ModelFolderError(`${path} is not valid JSON`);
  }
}

export function loadModelFolder(dir: string): ModelFolder {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ModelFolderError(`model folder ${dir} does not exist`);
  let unetConfig: UNetConfig;
  try {
    unetConfig = parseUNetConfig(readJson(join(dir, 'unet/config.json')));
  } catch (e) {
    if (e instanceof ConfigError) throw new ModelFolderError(e.message);
    throw e;
  }
  const unetWeights = ['diffusion_pytorch_model.safetensors', 'diffusion_pytorch_model.fp16.safetensors']
    .map((f) => join(dir, 'unet', f))
    .find((p) => existsSync(p));
  if (!unetWeights) throw new ModelFolderError(`${dir}/unet has no diffusion_pytorch_model.safetensors`);
  const schedulerPath = join(dir, 'scheduler/scheduler_config.json');
  const scheduler = existsSync(schedulerPath) ? parseSchedulerConfig(readJson(schedulerPath)) : SD15_SCHEDULER;
  return {
    dir,
    unetConfig,
    unetWeights,
    scheduler,
    pixelSpace: !existsSync(join(dir, 'vae/config.json')),
    hasTextEncoder: existsSync(join(dir, 'text_encoder/config.json')),
  };
}

/** Checks a folder the service was handed: configs parse, weights open, shapes agree with the config. */
export async function validateModelFolder(dir: string): Promise<{ ok: boolean; errors: string[]; info: { pixelSpace: boolean; sampleSize: number; hasVae: boolean } }> {
  const errors: string[] = [];
  let info = { pixelSpace: false, sampleSize: 0, hasVae: false };
  try {
    const m = loadModelFolder(dir);
    info = { pixelSpace: m.pixelSpace, sampleSize: m.unetConfig.sample_size, hasVae: !m.pixelSpace };
    const file = SafetensorsFile.open(m.unetWeights);
    const check = (name: string, expected: number[]) => {
      if (!file.has(name)) return errors.push(`unet weights lack '${name}'`);
      const shape = file.entry(name).shape;
      if (shape.join() !== expected.join()) errors.push(`unet '${name}' is [${shape}], the config implies [${expected}]`);
    };
    const c = m.unetConfig;
    check('conv_in.weight', [c.block_out_channels[0], c.in_channels, c.conv_in_kernel, c.conv_in_kernel]);
    check('conv_out.weight', [c.out_channels, c.block_out_channels[0], c.conv_out_kernel, c.conv_out_kernel]);
    check('time_embedding.linear_1.weight', [c.time_embedding_dim, c.block_out_channels[0]]);
    if (m.pixelSpace && c.in_channels !== 3) errors.push(`a folder without vae/ must be a pixel-space model (in_channels 3), this UNet has ${c.in_channels}`);
    if (!m.hasTextEncoder) errors.push('missing text_encoder/config.json');
    if (!existsSync(join(dir, 'tokenizer'))) errors.push('missing tokenizer/');
  } catch (e) {
    errors.push((e as Error).message);
  }
  return { ok: errors.length === 0, errors, info };
}
