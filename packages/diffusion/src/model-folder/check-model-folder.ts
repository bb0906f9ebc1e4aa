import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelFolderInfo } from '@npo/contracts';
import { SafetensorsFile } from '@npo/graph';
import { readModelFolder, SDXL_PIPELINE, WEIGHT_FILES, type ModelFolderReading, type WeightsPart } from './read-model-folder.ts';
import { sdxlConsistencyProblems } from './sdxl-consistency.ts';

// Structural validation of a diffusers-layout model folder, from what the reader says it is: the parts its kind needs
// are present, configs parse, weights present and readable (safetensors headers only), the UNet's config agrees with
// its weights, and for SDXL the seven parts agree with each other. The trainer's validateModelFolder runs after these
// pass and adds its own deeper checks (the configs it builds graphs from, weight shapes).
export interface ModelCheck { ok: boolean; errors: string[]; info: ModelFolderInfo }

/** The part's weights file, opened (header only), or null with the reason in `errors`. */
function openWeights(r: ModelFolderReading, part: WeightsPart, errors: string[]): SafetensorsFile | null {
  const path = r.weightsPaths[part];
  if (!path) {
    const folder = join(r.dir, part);
    const others = existsSync(folder) ? readdirSync(folder).filter((f) => f.endsWith('.safetensors')) : [];
    errors.push(others.length
      ? `${part}/ has ${others.join(', ')} but none of ${WEIGHT_FILES[part].join(', ')}`
      : `${part}/ has no .safetensors weights`);
    return null;
  }
  try {
    return SafetensorsFile.open(path);
  } catch (err) {
    errors.push(`${part}/${r.info.weights[part]}: ${(err as Error).message}`);
    return null;
  }
}

export function checkModelFolder(dir: string): ModelCheck {
  const r = readModelFolder(dir);
  const sdxl = r.info.kind === 'sdxl';
  const errors: string[] = [];
  const needs = sdxl
    ? `${SDXL_PIPELINE} needs ${r.requiredParts.map((p) => `${p}/`).join(', ')}`
    : 'diffusers layout needs unet/, text_encoder/, tokenizer/ and optionally vae/';
  for (const part of r.requiredParts) if (!existsSync(join(dir, part))) errors.push(`${part}/ is missing (${needs})`);
  errors.push(...r.problems);
  for (const tokenizer of sdxl ? ['tokenizer', 'tokenizer_2'] : ['tokenizer']) {
    if (existsSync(join(dir, tokenizer)) && !['tokenizer.json', 'vocab.json'].some((f) => existsSync(join(dir, tokenizer, f))))
      errors.push(`${tokenizer}/ has neither tokenizer.json nor vocab.json`);
  }
  const unet = openWeights(r, 'unet', errors);
  const encoders = { text_encoder: openWeights(r, 'text_encoder', errors), text_encoder_2: sdxl ? openWeights(r, 'text_encoder_2', errors) : null };
  if (r.info.hasVae) openWeights(r, 'vae', errors);

  const unetCfg = r.configs.unet;
  if (unetCfg && !(Number.isInteger(r.info.sampleSize) && r.info.sampleSize > 0)) errors.push('unet/config.json sample_size must be a positive integer');
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
  if (sdxl) errors.push(...sdxlConsistencyProblems(r, { unet, ...encoders }));
  return { ok: errors.length === 0, errors, info: r.info };
}
