import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile } from '@npo/graph';

// Structural validation of a diffusers-layout model folder: required parts present, configs parse, weights
// present and readable (safetensors headers only), and the UNet's config agrees with its weights. The
// trainer's validateModelFolder (deps.trainer) runs after these pass and adds its own deeper checks.
export interface ModelCheck { ok: boolean; errors: string[]; info: { pixelSpace: boolean; sampleSize: number; hasVae: boolean; inChannels?: number; outChannels?: number } }

function readJson(path: string, errors: string[]): Record<string, any> | null {
  if (!existsSync(path)) { errors.push(`${path.split('/').slice(-2).join('/')} is missing`); return null; }
  try { return JSON.parse(readFileSync(path, 'utf8')); } catch (err) { errors.push(`${path.split('/').slice(-2).join('/')} is not valid JSON: ${(err as Error).message}`); return null; }
}

function openWeights(dir: string, part: string, errors: string[]): SafetensorsFile | null {
  const folder = join(dir, part);
  const files = existsSync(folder) ? readdirSync(folder).filter((f) => f.endsWith('.safetensors')) : [];
  if (!files.length) { errors.push(`${part}/ has no .safetensors weights`); return null; }
  const preferred = files.find((f) => /^(diffusion_pytorch_model|model)\.safetensors$/.test(f)) ?? files[0];
  try { return SafetensorsFile.open(join(folder, preferred)); } catch (err) { errors.push(`${part}/${preferred}: ${(err as Error).message}`); return null; }
}

export function checkModelFolder(dir: string): ModelCheck {
  const errors: string[] = [];
  for (const part of ['unet', 'text_encoder', 'tokenizer']) if (!existsSync(join(dir, part))) errors.push(`${part}/ is missing (diffusers layout needs unet/, text_encoder/, tokenizer/ and optionally vae/)`);
  const hasVae = existsSync(join(dir, 'vae'));
  const unetCfg = readJson(join(dir, 'unet', 'config.json'), errors);
  readJson(join(dir, 'text_encoder', 'config.json'), errors);
  if (existsSync(join(dir, 'tokenizer')) && !['tokenizer.json', 'vocab.json'].some((f) => existsSync(join(dir, 'tokenizer', f)))) errors.push('tokenizer/ has neither tokenizer.json nor vocab.json');
  const unet = openWeights(dir, 'unet', errors);
  openWeights(dir, 'text_encoder', errors);
  if (hasVae) { readJson(join(dir, 'vae', 'config.json'), errors); openWeights(dir, 'vae', errors); }
  const sample = Array.isArray(unetCfg?.sample_size) ? unetCfg?.sample_size[0] : unetCfg?.sample_size;
  const info = { pixelSpace: !hasVae, sampleSize: Number(sample ?? 0), hasVae, inChannels: unetCfg?.in_channels, outChannels: unetCfg?.out_channels };
  if (unetCfg && !(Number.isInteger(info.sampleSize) && info.sampleSize > 0)) errors.push('unet/config.json sample_size must be a positive integer');
  if (unetCfg && unet) {
    const convIn = unet.tensors.get('conv_in.weight');
    const convOut = unet.tensors.get('conv_out.weight');
    if (!convIn) errors.push('unet weights have no conv_in.weight');
    else if (convIn.shape[1] !== unetCfg.in_channels) errors.push(`unet/config.json in_channels is ${unetCfg.in_channels} but conv_in.weight has shape [${convIn.shape}] (${convIn.shape[1]} input channels)`);
    if (!convOut) errors.push('unet weights have no conv_out.weight');
    else if (convOut.shape[0] !== unetCfg.out_channels) errors.push(`unet/config.json out_channels is ${unetCfg.out_channels} but conv_out.weight has shape [${convOut.shape}] (${convOut.shape[0]} output channels)`);
    const boc = unetCfg.block_out_channels;
    if (convIn && Array.isArray(boc) && convIn.shape[0] !== boc[0]) errors.push(`unet/config.json block_out_channels[0] is ${boc[0]} but conv_in.weight has ${convIn.shape[0]} output channels`);
  }
  return { ok: errors.length === 0, errors, info };
}
