import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import {
  ArtifactDir, buildGuidanceGraph, defaultTimeIds, GuidedSampler, loadLora, moduleSpecs, SdxlTextEncoders, TextEncoder, Vae, type AdapterSlot,
} from '@npo/diffusion';
import { numel, Rng, type ExecutionProvider } from '@npo/graph';
import { loadModelFolder } from './model-folder.ts';

export interface SampleGridOptions {
  modelDir: string;
  adapterPath: string;
  outFile: string;
  prompts?: string[];
  seeds?: number[];
  guidance?: number;
  steps?: number;
  workDir?: string;
  executionProvider?: ExecutionProvider;
}

/** CHW floats in [−1, 1] → HWC uint8. */
function toRgb(chw: Float32Array, side: number): Uint8Array {
  const px = side * side;
  const out = new Uint8Array(px * 3);
  for (let c = 0; c < 3; c++)
    for (let i = 0; i < px; i++) out[i * 3 + c] = Math.round((Math.min(1, Math.max(-1, chw[c * px + i])) + 1) * 127.5);
  return out;
}

/**
 * Plain CFG beside NPO-guided CFG (the adapter in the negative branch), same prompts and initial noise:
 * one row per prompt, the base samples on the left, the NPO samples on the right. Written as PNG.
 */
export async function renderSampleGrid(o: SampleGridOptions): Promise<{ file: string }> {
  const model = loadModelFolder(o.modelDir);
  const prompts = o.prompts ?? ['a photo of a cat', 'a red car on a street', 'a bowl of fruit', 'a mountain lake at sunrise'];
  const seeds = o.seeds ?? [0, 1, 2, 3];
  const workDir = o.workDir ?? join(dirname(o.outFile), '.grid-work');
  const session = { executionProvider: o.executionProvider };
  const adapter = loadLora(o.adapterPath);
  const { cond, uncond, embedShape, pooled } = await gridPrompts(o.modelDir, join(workDir, 'text'), prompts, session, !!model.unetConfig.addition);
  const S = model.unetConfig.sample_size;
  const latentShape = [model.unetConfig.in_channels, S, S];
  const artifacts = new ArtifactDir(workDir);
  const weights = artifacts.weights(model.unetWeights, 'unet.safetensors');
  const slot: AdapterSlot = { name: 'npo', rank: adapter.config.rank, modules: moduleSpecs(adapter) };
  const B = seeds.length;
  const { session: unet } = await artifacts.compile(buildGuidanceGraph({ config: model.unetConfig, weights }, 2 * B, latentShape, embedShape, [slot]), `grid_b${B}`, session);
  const side = model.pixelSpace ? S : S * 8;
  // SDXL: the pipeline's default micro-conditioning (original = target = the generated size, no crop).
  const sdxl = pooled ? { pooled: pooled.width, timeIds: defaultTimeIds(side) } : null;
  const sampler = new GuidedSampler(unet, model.scheduler, B, latentShape, embedShape, [slot], sdxl);
  const vae = model.pixelSpace ? null : await Vae.create(join(o.modelDir, 'vae'), { workDir: join(workDir, 'vae'), batch: B, resolution: S * 8, ...session });
  const L = numel(latentShape);
  const E = embedShape[0] * embedShape[1];
  const rows: Uint8Array[][] = [];
  for (let p = 0; p < prompts.length; p++) {
    const latents = new Float32Array(B * L);
    seeds.forEach((seed, i) => latents.set(new Rng(seed, p).fillNormal(new Float32Array(L)), i * L));
    const c = new Float32Array(B * E);
    const u = new Float32Array(B * E);
    for (let i = 0; i < B; i++) {
      c.set(cond.subarray(p * E, (p + 1) * E), i * E);
      u.set(uncond.subarray(0, E), i * E);
    }
    const added = pooled && {
      condPooled: repeat(pooled.cond.subarray(p * pooled.width, (p + 1) * pooled.width), B),
      uncondPooled: repeat(pooled.uncond, B),
    };
    const row: Uint8Array[] = [];
    for (const uses of [{}, { npo: { adapter, positiveScale: 0, negativeScale: 1 } }]) {
      const { latents: x } = await sampler.sample({ latents, cond: c, uncond: u, ...added, guidance: o.guidance ?? 7.5, steps: o.steps ?? 20 }, uses);
      const images = vae ? await vae.decode(x) : x;
      for (let i = 0; i < B; i++) row.push(toRgb(images.subarray(i * 3 * side * side, (i + 1) * 3 * side * side), side));
    }
    rows.push(row);
  }
  const scale = Math.max(1, Math.floor(128 / side));
  const cell = side * scale;
  const gap = 4;
  const width = 2 * B * (cell + gap) + gap;
  const height = prompts.length * (cell + gap) + gap;
  const composites = await Promise.all(
    rows.flatMap((row, r) =>
      row.map(async (img, k) => ({
        input: await sharp(Buffer.from(img), { raw: { width: side, height: side, channels: 3 } }).resize(cell, cell, { kernel: 'nearest' }).png().toBuffer(),
        left: gap + k * (cell + gap) + (k >= B ? gap : 0),
        top: gap + r * (cell + gap),
      })),
    ),
  );
  mkdirSync(dirname(o.outFile), { recursive: true });
  await sharp({ create: { width: width + gap, height, channels: 3, background: '#ffffff' } }).composite(composites).png().toFile(o.outFile);
  return { file: o.outFile };
}

function repeat(x: Float32Array, n: number): Float32Array {
  const out = new Float32Array(x.length * n);
  for (let i = 0; i < n; i++) out.set(x, i * x.length);
  return out;
}

interface GridPrompts {
  cond: Float32Array;
  uncond: Float32Array;
  embedShape: number[];
  pooled?: { width: number; cond: Float32Array; uncond: Float32Array };
}

/** The prompts' and the empty negative prompt's conditioning: SD's text_encoder, or SDXL's two encoders (force_zeros_for_empty_prompt honoured). */
async function gridPrompts(modelDir: string, workDir: string, prompts: string[], session: { executionProvider?: ExecutionProvider }, sdxl: boolean): Promise<GridPrompts> {
  if (!sdxl) {
    const text = await TextEncoder.create(modelDir, { workDir, batch: prompts.length, ...session });
    const uncond = (await text.unconditional()).lastHiddenState;
    return { cond: (await text.encode(prompts)).lastHiddenState, uncond, embedShape: [text.sequenceLength, uncond.length / text.sequenceLength] };
  }
  const text = await SdxlTextEncoders.create(modelDir, { workDir, batch: prompts.length, ...session });
  const cond = await text.encode(prompts);
  const neg = await text.emptyNegative();
  return { cond: cond.promptEmbeds, uncond: neg.promptEmbeds, embedShape: text.embedShape, pooled: { width: text.pooledWidth, cond: cond.pooled, uncond: neg.pooled } };
}
