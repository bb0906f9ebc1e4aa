import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Graph, hostTensor, type ExecutionProvider, type Session } from '@npo/graph';
import { ArtifactDir } from '../model/artifacts.ts';
import { findWeightsFile, type WeightSource } from '../model/weights.ts';
import { WEIGHT_FILES } from '../model-folder/read-model-folder.ts';
import { downscale, vaeDecode, vaeEncode } from './autoencoder.ts';
import { parseVaeConfig, type VaeConfig } from './config.ts';
import { withLegacyAttentionNames } from './legacy-names.ts';

export interface VaeOptions {
  /** Where compiled graphs and links to the weights go. */
  workDir: string;
  batch: number;
  /** Image side in pixels; latents are resolution / 2^(blocks − 1). */
  resolution: number;
  executionProvider?: ExecutionProvider;
  threads?: number;
}

export function vaeWeightsPath(vaeDir: string): string {
  return findWeightsFile(vaeDir, WEIGHT_FILES.vae);
}

/** A diffusers AutoencoderKL folder's config (vae/config.json), validated. */
export function readVaeConfig(vaeDir: string): VaeConfig {
  return parseVaeConfig(JSON.parse(readFileSync(join(vaeDir, 'config.json'), 'utf8')));
}

/**
 * [latent_channels, side, side] of one image encoded at `resolution`: what preparation stores and training steps on,
 * known from the config alone (so a job can be sized before anything is encoded).
 */
export function vaeLatentShape(config: VaeConfig, resolution: number): [number, number, number] {
  const f = downscale(config);
  if (!Number.isInteger(resolution) || resolution <= 0 || resolution % f) throw new Error(`VAE: resolution ${resolution} must be a positive multiple of ${f}`);
  return [config.latent_channels, resolution / f, resolution / f];
}

/** The config and weights of a diffusers AutoencoderKL folder, legacy attention names mapped to current ones. */
export function loadVae(vaeDir: string, artifacts: ArtifactDir): { config: VaeConfig; weights: WeightSource } {
  const config = readVaeConfig(vaeDir);
  const weights = withLegacyAttentionNames(artifacts.weights(vaeWeightsPath(vaeDir), 'vae.safetensors'));
  return { config, weights };
}

/**
 * The encoder graph Vae compiles: `image` [batch, in_channels, R, R] in [−1, 1] → `latents` (scaled), `mean`, `logvar`.
 * Built here once for compiling and for measuring (memory/vae-encode-memory.ts), so what is sized is what runs.
 */
export function vaeEncoderGraph(weights: WeightSource, config: VaeConfig, batch: number, resolution: number): Graph {
  const g = new Graph();
  const enc = vaeEncode({ g, weights, adapters: [] }, config, g.input('image', 'float32', [batch, config.in_channels, resolution, resolution]));
  g.output('latents', enc.latents);
  g.output('mean', enc.mean);
  g.output('logvar', enc.logvar);
  return g;
}

/**
 * A diffusers AutoencoderKL compiled for one batch size and resolution: `encode` images in [−1, 1] to scaled
 * latents (the posterior's mode) and `decode` latents back. Batches smaller than `batch` are padded.
 */
export class Vae {
  private constructor(
    readonly config: VaeConfig,
    readonly batch: number,
    readonly resolution: number,
    private readonly encoder: Session,
    private readonly decoder: Session,
  ) {}

  get latentSize(): number {
    return this.latentShape[1];
  }

  get latentShape(): [number, number, number] {
    return vaeLatentShape(this.config, this.resolution);
  }

  static async create(vaeDir: string, opts: VaeOptions): Promise<Vae> {
    const artifacts = new ArtifactDir(opts.workDir);
    const { config, weights } = loadVae(vaeDir, artifacts);
    const { batch: b, resolution: r } = opts;
    const [, s] = vaeLatentShape(config, r);
    const session = { executionProvider: opts.executionProvider, threads: opts.threads };

    const eg = vaeEncoderGraph(weights, config, b, r);
    const dg = new Graph();
    const dec = vaeDecode({ g: dg, weights, adapters: [] }, config, dg.input('latents', 'float32', [b, config.latent_channels, s, s]));
    dg.output('images', dec.images);

    const encoder = (await artifacts.compile(eg, `vae_encoder_b${b}_r${r}`, session)).session;
    const decoder = (await artifacts.compile(dg, `vae_decoder_b${b}_r${r}`, session)).session;
    return new Vae(config, b, r, encoder, decoder);
  }

  /** images: [n ≤ batch, in_channels, R, R] in [−1, 1], flattened. */
  async encode(images: Float32Array): Promise<{ latents: Float32Array; mean: Float32Array; logvar: Float32Array }> {
    const per = this.config.in_channels * this.resolution ** 2;
    const n = this.count(images.length, per, 'images');
    const res = await this.encoder.run({ image: hostTensor('float32', [this.batch, this.config.in_channels, this.resolution, this.resolution], this.padded(images, per)) });
    const keep = n * this.config.latent_channels * this.latentSize ** 2;
    const take = (k: string) => (res[k].data as Float32Array).slice(0, keep);
    return { latents: take('latents'), mean: take('mean'), logvar: take('logvar') };
  }

  /** latents: [n ≤ batch, latent_channels, R/f, R/f] (scaled, as `encode` returns them), flattened → images. */
  async decode(latents: Float32Array): Promise<Float32Array> {
    const per = this.config.latent_channels * this.latentSize ** 2;
    const n = this.count(latents.length, per, 'latents');
    const s = this.latentSize;
    const res = await this.decoder.run({ latents: hostTensor('float32', [this.batch, this.config.latent_channels, s, s], this.padded(latents, per)) });
    return (res.images.data as Float32Array).slice(0, n * this.config.out_channels * this.resolution ** 2);
  }

  async release(): Promise<void> {
    await this.encoder.release();
    await this.decoder.release();
  }

  private count(length: number, per: number, what: string): number {
    const n = length / per;
    if (!Number.isInteger(n) || n < 1 || n > this.batch)
      throw new Error(`VAE: ${length} ${what} values are not 1..${this.batch} items of ${per} (compiled for batch ${this.batch}, resolution ${this.resolution})`);
    return n;
  }

  private padded(x: Float32Array, per: number): Float32Array {
    if (x.length === this.batch * per) return x;
    const out = new Float32Array(this.batch * per);
    out.set(x);
    return out;
  }
}
