import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  ConfigError, parseClipTextConfig, parseSchedulerConfig, parseUNetConfig, readModelFolder, SD15_SCHEDULER,
  type SchedulerConfig, type UNetConfig,
} from '@npo/diffusion';
import { InputError, type ModelFolderInfo, type ModelKind } from '@npo/contracts';
import { SafetensorsFile } from '@npo/graph';

/** A diffusers model folder as the trainer uses it: the one reader's answer, with the configs it builds graphs from parsed. */
export interface ModelFolder {
  dir: string;
  kind: ModelKind;
  unetConfig: UNetConfig;
  unetWeights: string;
  scheduler: SchedulerConfig;
  /** No vae/: the UNet works on RGB pixels directly (e.g. the built-in tiny-sd). */
  pixelSpace: boolean;
  /** Pixels per latent (null for a pixel-space model). */
  vaeScaleFactor: number | null;
  hasTextEncoder: boolean;
}

export class ModelFolderError extends InputError {
  constructor(message: string) {
    super(message, {}, 'invalid_model', 422);
  }
}

function parsed<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof ConfigError) throw new ModelFolderError(e.message);
    throw e;
  }
}

export function loadModelFolder(dir: string): ModelFolder {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ModelFolderError(`model folder ${dir} does not exist`);
  const r = readModelFolder(dir);
  const unetRaw = r.configs.unet;
  if (!unetRaw) throw new ModelFolderError(`${dir}: ${r.problems.find((p) => p.startsWith('unet/')) ?? 'unet/config.json is unreadable'}`);
  const unetConfig = parsed(() => parseUNetConfig(unetRaw));
  if (!r.weightsPaths.unet) throw new ModelFolderError(`${dir}/unet has no diffusion_pytorch_model.safetensors`);
  const schedulerProblem = r.problems.find((p) => p.startsWith('scheduler/'));
  if (schedulerProblem) throw new ModelFolderError(`${dir}: ${schedulerProblem}`);
  return {
    dir,
    kind: r.info.kind,
    unetConfig,
    unetWeights: r.weightsPaths.unet,
    scheduler: r.configs.scheduler ? parseSchedulerConfig(r.configs.scheduler) : SD15_SCHEDULER,
    pixelSpace: r.info.pixelSpace,
    vaeScaleFactor: r.info.vaeScaleFactor,
    hasTextEncoder: r.configs.text_encoder !== undefined,
  };
}

/** Checks a folder the service was handed: configs parse, weights open, shapes agree with the config. */
export async function validateModelFolder(dir: string): Promise<{ ok: boolean; errors: string[]; info: ModelFolderInfo }> {
  const errors: string[] = [];
  const { info, configs } = readModelFolder(dir);
  try {
    const m = loadModelFolder(dir);
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
    // SDXL: both encoders are built from their configs at preparation and sampling; refuse what they cannot build now
    if (m.kind === 'sdxl')
      for (const part of ['text_encoder', 'text_encoder_2'] as const) {
        const raw = configs[part];
        if (!raw) continue;
        try {
          parseClipTextConfig(raw);
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
          errors.push(`${part}/config.json: ${e.message}`);
        }
      }
  } catch (e) {
    errors.push((e as Error).message);
  }
  return { ok: errors.length === 0, errors, info };
}
