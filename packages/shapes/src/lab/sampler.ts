import { join } from 'node:path';
import {
  ArtifactDir, buildGuidanceGraph, GuidedSampler, initLora, moduleSpecs, DEFAULT_TARGETS, type AdapterSlot, type AdapterUse,
} from '@npo/diffusion';
import { Rng } from '@npo/graph';
import { loadModelFolder } from '@npo/trainer';
import { CHANNELS, IMAGE_LENGTH, IMAGE_SIZE, PROMPTS } from '../world.ts';
import { promptEmbeddings } from './tiny-sd.ts';

export interface ShapesSamplerOptions {
  workDir: string;
  /** Images per UNet call (the graph runs 2× this: positive and negative branches). */
  batch: number;
  /** LoRA rank of the adapters that will be plugged in (all slots). */
  rank: number;
  threads?: number;
}

const SAMPLE_SHAPE = [CHANNELS, IMAGE_SIZE, IMAGE_SIZE];

export const SLOTS = ['pos', 'npo'] as const;
export type Slot = (typeof SLOTS)[number];

/**
 * Samples the shapes world from tiny-sd with guidance, two adapter slots: `pos` (a positive adapter in both
 * branches, or none) and `npo` (in the negative branch only). Initial noise comes from (seed, index), so every
 * arm of an experiment sees the same noise for the same sample.
 */
export class ShapesSampler {
  private constructor(
    private readonly sampler: GuidedSampler,
    private readonly table: Float32Array,
    private readonly embedSize: number,
    readonly batch: number,
  ) {}

  static async create(modelDir: string, o: ShapesSamplerOptions): Promise<ShapesSampler> {
    const { unetConfig: config, unetWeights, scheduler } = loadModelFolder(modelDir);
    const { table, embedShape } = await promptEmbeddings(modelDir, join(o.workDir, 'text'));
    const artifacts = new ArtifactDir(o.workDir);
    const weights = artifacts.weights(unetWeights, 'unet.safetensors');
    const modules = moduleSpecs(initLora(weights, { rank: o.rank, alpha: o.rank, targets: DEFAULT_TARGETS }, 0));
    const slots: AdapterSlot[] = SLOTS.map((name) => ({ name, rank: o.rank, modules }));
    const graph = buildGuidanceGraph({ config, weights }, 2 * o.batch, SAMPLE_SHAPE, embedShape, slots);
    const { session } = await artifacts.compile(graph, `guidance_b${o.batch}_r${o.rank}`, { threads: o.threads });
    return new ShapesSampler(new GuidedSampler(session, scheduler, o.batch, SAMPLE_SHAPE, embedShape, slots), table, embedShape[0] * embedShape[1], o.batch);
  }

  /** N(0, 1) initial noise of sample `index` under `seed`. */
  static noise(seed: number, index: number): Float32Array {
    return new Rng(seed, index).fillNormal(new Float32Array(IMAGE_LENGTH));
  }

  /** Images [n, 3, 16, 16] for prompt indices `prompts`, noise from (seed, indices[i]). */
  async sample(
    prompts: number[], indices: number[], seed: number, guidance: number, uses: Partial<Record<Slot, AdapterUse>> = {}, steps = 20,
  ): Promise<Float32Array> {
    const out = new Float32Array(prompts.length * IMAGE_LENGTH);
    const E = this.embedSize;
    // The table's last row, after the prompts', is the empty prompt's embedding.
    const uncondRow = this.table.subarray(PROMPTS.length * E, (PROMPTS.length + 1) * E);
    for (let start = 0; start < prompts.length; start += this.batch) {
      const n = Math.min(this.batch, prompts.length - start);
      const latents = new Float32Array(this.batch * IMAGE_LENGTH);
      const cond = new Float32Array(this.batch * E);
      const uncond = new Float32Array(this.batch * E);
      for (let i = 0; i < this.batch; i++) {
        const k = start + Math.min(i, n - 1);
        latents.set(ShapesSampler.noise(seed, indices[k]), i * IMAGE_LENGTH);
        cond.set(this.table.subarray(prompts[k] * E, (prompts[k] + 1) * E), i * E);
        uncond.set(uncondRow, i * E);
      }
      const { latents: x } = await this.sampler.sample({ latents, cond, uncond, guidance, steps, clipSample: true }, uses);
      out.set(x.subarray(0, n * IMAGE_LENGTH), start * IMAGE_LENGTH);
    }
    return out;
  }
}
