import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import {
  ArtifactDir, buildGuidanceGraph, defaultTimeIds, GuidedSampler, loadLora, moduleSpecs, LoraError, Vae, type AdapterSlot, type AdapterUse,
} from '@npo/diffusion';
import { numel, Rng, SafetensorsError, type ExecutionProvider } from '@npo/graph';
import { loadModelFolder } from '../model-folder.ts';
import { AdapterFileError } from './adapter-file-error.ts';
import { ADAPTER_ROLES, adapterUse, type AdapterRole } from './adapter-roles.ts';
import { writeLabelledGrid } from './labelled-grid.ts';
import { encodePromptConditioning } from './prompt-conditioning.ts';

export const SAMPLERS = ['ddim', 'euler'] as const;
export type SamplerName = (typeof SAMPLERS)[number];
export type SampleArm = 'base' | 'adapted';

export interface RenderSamplesOptions {
  modelDir: string;
  prompts: string[];
  /** Text of the negative branch; empty (default) is the unconditional embedding (SDXL: zeros, per force_zeros_for_empty_prompt). */
  negativePrompt?: string;
  seeds: number[];
  guidance: number[];
  steps: number;
  sampler?: SamplerName;
  /** Adapter files by role. With none, only the base arm is sampled. */
  adapters?: Partial<Record<AdapterRole, string>>;
  /** The grid's title and the adapted arm's header. */
  title?: string;
  adaptedLabel?: string;
  /** Where the PNGs and grid.png go. */
  outDir: string;
  /** Compiled graphs. */
  workDir: string;
  executionProvider?: ExecutionProvider;
  signal?: AbortSignal;
}

export interface RenderedImage {
  /** File name inside outDir. */
  name: string;
  prompt: number;
  seed: number;
  guidance: number;
  arm: SampleArm;
  /** CHW in [−1, 1] (decoded pixels for latent models): what a reward reads. */
  pixels: Float32Array;
}

export interface RenderedSamples {
  grid: string;
  images: RenderedImage[];
  side: number;
}

/**
 * A LoRA file's loading errors (not a safetensors file, or not a LoRA) as the error hierarchy's input errors: the worker
 * fails such a request at once instead of retrying it.
 */
function loadAdapterFile(path: string) {
  try {
    return loadLora(path);
  } catch (err) {
    if (err instanceof LoraError || err instanceof SafetensorsError) throw new AdapterFileError(err.message, path);
    throw err;
  }
}

/** `n` copies of `x` back to back. */
function repeat(x: Float32Array, n: number): Float32Array {
  const out = new Float32Array(x.length * n);
  for (let i = 0; i < n; i++) out.set(x, i * x.length);
  return out;
}

/** The initial noise of a seed: the same for every prompt, arm and guidance scale, so they compare like for like. */
export const seedNoise = (seed: number, length: number) => new Rng(seed, 0).fillNormal(new Float32Array(length));

/** CHW floats in [−1, 1] → HWC uint8. */
export function chwToRgb(chw: Float32Array, side: number): Uint8Array {
  const px = side * side;
  const out = new Uint8Array(px * 3);
  for (let c = 0; c < 3; c++)
    for (let i = 0; i < px; i++) out[i * 3 + c] = Math.round((Math.min(1, Math.max(-1, chw[c * px + i])) + 1) * 127.5);
  return out;
}

/**
 * Samples every (guidance, prompt, seed) with the base model and, when adapters are given, with them plugged in by
 * role — the same initial noise for both arms. Writes one PNG per image and a labelled grid (rows = guidance ×
 * prompt, columns = seeds, base beside adapted). One batched UNet call per denoising step serves both guidance
 * branches of all seeds. SDXL (text_time UNets) is conditioned as its pipeline does: pooled prompt embeddings and
 * the default micro-conditioning (original = target = the generated size, no crop).
 */
export async function renderSamples(o: RenderSamplesOptions): Promise<RenderedSamples> {
  const model = loadModelFolder(o.modelDir);
  const session = { executionProvider: o.executionProvider };
  const roles = ADAPTER_ROLES.filter((r) => o.adapters?.[r]);
  const uses: Record<string, AdapterUse> = {};
  const slots: AdapterSlot[] = [];
  for (const role of roles) {
    const adapter = loadAdapterFile(o.adapters![role]!);
    uses[role] = adapterUse(adapter, role);
    slots.push({ name: role, rank: adapter.config.rank, modules: moduleSpecs(adapter) });
  }
  const arms: { arm: SampleArm; uses: Record<string, AdapterUse> }[] = [{ arm: 'base', uses: {} }];
  if (roles.length) arms.push({ arm: 'adapted', uses });

  const S = model.unetConfig.sample_size;
  const latentShape = [model.unetConfig.in_channels, S, S];
  const B = o.seeds.length;
  const artifacts = new ArtifactDir(o.workDir);
  const weights = artifacts.weights(model.unetWeights, 'unet.safetensors');
  const slotKey = slots.map((s) => `${s.name}${s.rank}`).join('_') || 'base';
  let unet: Awaited<ReturnType<ArtifactDir['compile']>>['session'] | null = null;
  let vae: Vae | null = null;
  try {
    const { cond, negative, embedShape, pooled } = await encodePromptConditioning({
      modelDir: o.modelDir, workDir: o.workDir, prompts: o.prompts, negativePrompt: o.negativePrompt,
      textTime: model.kind === 'sdxl', executionProvider: o.executionProvider,
    });
    ({ session: unet } = await artifacts.compile(buildGuidanceGraph({ config: model.unetConfig, weights }, 2 * B, latentShape, embedShape, slots), `samples_b${B}_${slotKey}`, session));
    // the VAE's own factor (8 for SD and SDXL; smaller for test folders) turns latents into pixels
    const side = model.pixelSpace ? S : S * model.vaeScaleFactor!;
    const sampler = new GuidedSampler(unet, model.scheduler, B, latentShape, embedShape, slots, pooled && { pooled: pooled.width, timeIds: defaultTimeIds(side) });
    vae = model.pixelSpace ? null : await Vae.create(join(o.modelDir, 'vae'), { workDir: join(o.workDir, 'vae'), batch: B, resolution: side, ...session });
    // compiling is minutes at full size: a cancel in the meantime is heard here rather than at the first denoising step
    o.signal?.throwIfAborted();
    const L = numel(latentShape);
    const E = embedShape[0] * embedShape[1];
    const latents = new Float32Array(B * L);
    o.seeds.forEach((seed, i) => latents.set(seedNoise(seed, L), i * L));
    const u = new Float32Array(B * E);
    for (let i = 0; i < B; i++) u.set(negative.subarray(0, E), i * E);
    const uncondPooled = pooled && repeat(pooled.negative, B);

    mkdirSync(o.outDir, { recursive: true });
    const images: RenderedImage[] = [];
    const cells: Uint8Array[][] = [];
    const rowLabels: string[][] = [];
    for (let g = 0; g < o.guidance.length; g++) {
      const w = o.guidance[g];
      for (let p = 0; p < o.prompts.length; p++) {
        const c = new Float32Array(B * E);
        for (let i = 0; i < B; i++) c.set(cond.subarray(p * E, (p + 1) * E), i * E);
        const added = pooled && { condPooled: repeat(pooled.cond.subarray(p * pooled.width, (p + 1) * pooled.width), B), uncondPooled: uncondPooled! };
        const row: Uint8Array[] = [];
        for (const { arm, uses: armUses } of arms) {
          const { latents: x } = await sampler.sample({ latents, cond: c, uncond: u, ...added, guidance: w, steps: o.steps, sampler: o.sampler, signal: o.signal }, armUses);
          const decoded = vae ? await vae.decode(x) : x;
          const per = 3 * side * side;
          for (let i = 0; i < B; i++) {
            const pixels = decoded.slice(i * per, (i + 1) * per);
            const rgb = chwToRgb(pixels, side);
            const name = `w${g}-p${p}-seed${o.seeds[i]}-${arm}.png`;
            await sharp(Buffer.from(rgb), { raw: { width: side, height: side, channels: 3 } }).png().toFile(join(o.outDir, name));
            images.push({ name, prompt: p, seed: o.seeds[i], guidance: w, arm, pixels });
            row.push(rgb);
          }
        }
        cells.push(row);
        rowLabels.push([o.prompts[p], `w = ${w}`]);
      }
    }
    const columns = o.seeds.map((s) => `seed ${s}`);
    const grid = join(o.outDir, 'grid.png');
    await writeLabelledGrid(grid, {
      title: o.title ?? `${o.sampler ?? 'ddim'}, ${o.steps} steps${o.negativePrompt ? `, negative: "${o.negativePrompt}"` : ''}`,
      rowLabels,
      columnGroups: arms.map(({ arm }) => ({ label: arm === 'base' ? 'base' : (o.adaptedLabel ?? `adapted (${roles.join(' + ')})`), columns })),
      cells,
      side,
    });
    return { grid: 'grid.png', images, side };
  } finally {
    await unet?.release();
    await vae?.release();
  }
}
