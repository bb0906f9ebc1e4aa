import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  identityImageEncoder, openDatasetRows, pairsOnly, pixelLatentShape, encodeShards, readVaeConfig, shardSetKey, SdxlTextEncoders, TextEncoder, Vae,
  type ImageEncoder, type EncodeProgress,
} from '@npo/diffusion';
import type { ExecutionProvider } from '@npo/graph';
import { sha256File } from '@npo/contracts';
import { loadModelFolder, ModelFolderError } from './model-folder.ts';
import { chooseVaeEncodeBatch } from './vae-encode-batch.ts';

export interface EncodeDatasetOptions {
  modelDir: string;
  datasetFile: string;
  resolution: number;
  outDir: string;
  /** Compiled encoders go here (default: `<outDir>/.work`). */
  workDir?: string;
  /** Pairs per batch (prompts through the text encoder at once; the VAE takes their images in its own batches). */
  batchPairs?: number;
  /** The worker's MEMORY_BUDGET_MB: it sizes the VAE encoder's batch (vae-encode-batch.ts); default: this machine's. */
  memoryBudgetMb?: number;
  executionProvider?: ExecutionProvider;
  signal?: AbortSignal;
  /** Pairs the dataset holds, when known (a validation report's count), for progress percentages. */
  pairsTotal?: number;
  onProgress?: (p: EncodeProgress) => void;
}

/**
 * From a dataset file (Pick-a-Pic parquet, or a zip/tar with pairs.jsonl) to the prepared cache training
 * reads: images through the model's VAE (or as pixels, for a pixel-space model) and prompts through its
 * text encoder, in batches, resumable after a crash.
 */
export async function encodeDatasetForModel(o: EncodeDatasetOptions): Promise<{ preparedDir: string; pairs: number; cached: boolean }> {
  const model = loadModelFolder(o.modelDir);
  const workDir = o.workDir ?? join(o.outDir, '.work');
  const B = o.batchPairs ?? 8;
  const session = { executionProvider: o.executionProvider };
  const text = model.kind === 'sdxl' ? await sdxlPrompts(o.modelDir, join(workDir, 'text'), B, session) : await sdPrompts(o.modelDir, join(workDir, 'text'), B, session);
  if (text.embedShape[1] !== model.unetConfig.cross_attention_dim)
    throw new ModelFolderError(`the text encoders make ${text.embedShape[1]}-wide prompt embeddings, the UNet's cross_attention_dim is ${model.unetConfig.cross_attention_dim}`);
  let encodeImages: ImageEncoder;
  let latentShape: number[];
  if (model.pixelSpace) {
    if (o.resolution !== model.unetConfig.sample_size)
      throw new ModelFolderError(`this pixel-space model works at ${model.unetConfig.sample_size}×${model.unetConfig.sample_size}; resolution ${o.resolution} was asked for`);
    encodeImages = identityImageEncoder;
    latentShape = pixelLatentShape(o.resolution);
  } else {
    const vaeDir = join(o.modelDir, 'vae');
    const { batch } = chooseVaeEncodeBatch(readVaeConfig(vaeDir), o.resolution, o.memoryBudgetMb, 2 * B);
    const vae = await Vae.create(vaeDir, { workDir: join(workDir, 'vae'), batch, resolution: o.resolution, ...session });
    encodeImages = (images, n) => encodeInBatches(vae, images, n);
    latentShape = vae.latentShape;
    if (latentShape[0] !== model.unetConfig.in_channels)
      throw new ModelFolderError(`the VAE makes ${latentShape[0]}-channel latents, the UNet takes ${model.unetConfig.in_channels} channels`);
  }
  // compiling the encoders is minutes at full size: a cancel in the meantime is heard here rather than at the first batch
  o.signal?.throwIfAborted();
  const key = shardSetKey({ dataset: await sha256File(o.datasetFile), model: encodersIdentity(o.modelDir), resolution: o.resolution });
  const { rows } = await openDatasetRows(o.datasetFile, { scratchRoot: workDir });
  const result = await encodeShards({
    source: pairsOnly(rows),
    outDir: o.outDir,
    key,
    resolution: o.resolution,
    shardSize: 256,
    batchSize: B,
    encodeImages,
    encodePrompts: text.encode,
    uncondEmbedding: text.uncond,
    pooled: text.pooled,
    latentShape,
    embedShape: text.embedShape,
    pairsTotal: o.pairsTotal,
    onProgress: o.onProgress,
    signal: o.signal,
  });
  return { preparedDir: o.outDir, pairs: result.manifest.total_pairs, cached: result.cached };
}

/**
 * `n` images through the encoder `vae.batch` at a time. Latents are per image (no op mixes images), so the batch
 * changes the memory peak, not the values: neither the shards nor their cache keys depend on it.
 */
async function encodeInBatches(vae: Vae, images: Float32Array, n: number): Promise<Float32Array> {
  const per = images.length / n;
  const parts: Float32Array[] = [];
  for (let i = 0; i < n; i += vae.batch) parts.push((await vae.encode(images.slice(i * per, Math.min(n, i + vae.batch) * per))).latents);
  if (parts.length === 1) return parts[0];
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The text encoder, tokenizer and VAE define the prepared values: key the cache by their configs and weight files. */
function encodersIdentity(modelDir: string): string {
  const h = createHash('sha256');
  for (const part of ['text_encoder', 'tokenizer', 'text_encoder_2', 'tokenizer_2', 'vae']) {
    const dir = join(modelDir, part);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) {
      const p = join(dir, f);
      const s = statSync(p);
      h.update(f.endsWith('.json') || f.endsWith('.txt') ? readFileSync(p) : `${f}:${s.size}:${s.mtimeMs}`);
    }
  }
  return h.digest('hex');
}

interface PromptSide {
  embedShape: number[];
  uncond: Float32Array;
  pooled?: { width: number; uncond: Float32Array };
  encode: (prompts: string[]) => Promise<Float32Array | { embeds: Float32Array; pooled: Float32Array }>;
}

/** SD1.x/2.x: text_encoder's last hidden state; the empty prompt for dropout. */
async function sdPrompts(modelDir: string, workDir: string, batch: number, session: { executionProvider?: ExecutionProvider }): Promise<PromptSide> {
  const text = await TextEncoder.create(modelDir, { workDir, batch, ...session });
  const uncond = (await text.unconditional()).lastHiddenState;
  return { embedShape: [text.sequenceLength, uncond.length / text.sequenceLength], uncond, encode: async (p) => (await text.encode(p)).lastHiddenState };
}

/**
 * SDXL: both encoders' penultimate states and encoder 2's pooled projection. Prompt dropout uses the empty
 * prompt's encoding, as diffusers' SDXL training scripts do (force_zeros_for_empty_prompt is an inference setting).
 */
async function sdxlPrompts(modelDir: string, workDir: string, batch: number, session: { executionProvider?: ExecutionProvider }): Promise<PromptSide> {
  const text = await SdxlTextEncoders.create(modelDir, { workDir, batch, ...session });
  const empty = await text.encode(['']);
  return {
    embedShape: text.embedShape,
    uncond: empty.promptEmbeds,
    pooled: { width: text.pooledWidth, uncond: empty.pooled },
    encode: async (p) => {
      const e = await text.encode(p);
      return { embeds: e.promptEmbeds, pooled: e.pooled };
    },
  };
}
