import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

// A quick structural look at a diffusers-layout folder: which parts exist and the UNet's sample size. The full
// validation (weights vs configs) is the worker's job; this is what start-up needs for the built-in model.
export interface ModelFolderInfo { pixelSpace: boolean; sampleSize: number; hasVae: boolean; inChannels: number; outChannels: number }

export function readModelFolderInfo(dir: string): ModelFolderInfo {
  const cfgPath = join(dir, 'unet', 'config.json');
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as { sample_size?: number | number[]; in_channels?: number; out_channels?: number };
  const hasVae = existsSync(join(dir, 'vae')) && readdirSync(join(dir, 'vae')).length > 0;
  const sample = Array.isArray(cfg.sample_size) ? cfg.sample_size[0] : cfg.sample_size;
  return { pixelSpace: !hasVae, sampleSize: Number(sample ?? 64), hasVae, inChannels: Number(cfg.in_channels ?? 4), outChannels: Number(cfg.out_channels ?? 4) };
}
