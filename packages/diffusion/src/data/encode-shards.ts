import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { numel } from '@npo/graph';
import { sha256File } from '@npo/contracts';
import { DatasetError } from './errors.ts';
import { TIME_IDS } from '../unet/config.ts';
import { timeIdsVector } from '../unet/time-ids.ts';
import { decodeBatch, type Background, type DecodedImage, type ImageLimits } from './images.ts';
import { isDropped, type PairRow, type SourceRow } from './rows.ts';
import {
  MANIFEST_FILE,
  MANIFEST_VERSION,
  UNCOND_FILE,
  tryReadManifest,
  writeJsonAtomic,
  writeShard,
  writeUncond,
  type PreparedManifest,
  type ShardAdded,
  type ShardEntry,
  type ShardTensors,
} from './shards.ts';

/**
 * Turns preference pairs into the prepared cache (see shards.ts), encoding images and prompts once, in batches.
 *
 * Resumable: after each completed shard, `progress.json` records the shards so far (with their sha256) and how many
 * source rows they consumed. A new run with the same key keeps every recorded shard whose bytes still match and
 * continues from the next source row, so given a deterministic source and deterministic encoders the result is
 * byte-identical to an uninterrupted run. Pairs encoded but not yet in a completed shard are simply redone.
 */

export const PROGRESS_FILE = 'progress.json';

export type ImageEncoder = (images: Float32Array, n: number) => Promise<Float32Array>;

/** Pixel-space models (no VAE): the "latent" is the image itself, latent shape [3, R, R]. */
export const identityImageEncoder: ImageEncoder = async (images) => images;

export function pixelLatentShape(resolution: number): [number, number, number] {
  return [3, resolution, resolution];
}

/** Cache key of a (dataset, model, resolution) triple: hex sha256 of the three, unambiguous. */
export function shardSetKey(parts: { dataset: string; model: string; resolution: number }): string {
  return createHash('sha256').update(JSON.stringify([parts.dataset, parts.model, parts.resolution])).digest('hex');
}

export interface EncodeProgress {
  pairs_done: number;
  pairs_total?: number;
  shards_done: number;
}

export interface EncodeShardsOptions {
  source: AsyncIterable<SourceRow | PairRow>;
  outDir: string;
  key: string;
  resolution: number;
  /** Pairs per shard file. */
  shardSize: number;
  /** Pairs per encoder call (encodeImages gets 2× this many images: the chosen ones, then the rejected ones). */
  batchSize: number;
  /** [n, 3, R, R] in [−1, 1] → [n, C, h, w] latents (already multiplied by the VAE scaling factor). */
  encodeImages: ImageEncoder;
  /** Prompts → [n, T, D] embeddings (and, for text_time models, [n, P] pooled embeddings). */
  encodePrompts: (prompts: string[]) => Promise<Float32Array | { embeds: Float32Array; pooled: Float32Array }>;
  /** [T, D] (or [1, T, D]) embedding of the empty prompt, for classifier-free-guidance dropout. */
  uncondEmbedding: Float32Array;
  /**
   * text_time (SDXL) models: width of the pooled embedding and the empty prompt's; the shards then also keep each
   * image's time ids (its original size and the crop preparation made).
   */
  pooled?: { width: number; uncond: Float32Array };
  latentShape: number[];
  embedShape: number[];
  pairsTotal?: number;
  onProgress?: (p: EncodeProgress) => void;
  signal?: AbortSignal;
  imageLimits?: Partial<ImageLimits>;
  background?: Background;
  decodeConcurrency?: number;
}

export interface EncodeShardsResult {
  manifest: PreparedManifest;
  /** The cache was already complete: nothing was computed. */
  cached: boolean;
  /** Shards kept from an interrupted run. */
  resumed_shards: number;
  /** Rows skipped in this run (reader drops, undecodable or identical images). */
  dropped: number;
}

interface Progress {
  version: number;
  key: string;
  latent_shape: number[];
  embed_shape: number[];
  shards: (ShardEntry & { source_end: number })[];
}

interface EncodedPair {
  chosen: Float32Array;
  rejected: Float32Array;
  embeds: Float32Array;
  added?: ShardAdded;
  /** Source rows consumed up to and including this pair. */
  sourceEnd: number;
}

const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Recorded shards of an interrupted run that are still intact, in order (stops at the first that is not). */
async function resumableShards(opts: EncodeShardsOptions): Promise<Progress['shards']> {
  const path = join(opts.outDir, PROGRESS_FILE);
  if (!existsSync(path)) return [];
  let progress: Progress;
  try {
    progress = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return [];
  }
  if (progress.version !== MANIFEST_VERSION || progress.key !== opts.key) return [];
  if (!sameShape(progress.latent_shape, opts.latentShape) || !sameShape(progress.embed_shape, opts.embedShape)) return [];
  const kept: Progress['shards'] = [];
  for (const shard of progress.shards) {
    const file = join(opts.outDir, shard.file);
    if (!existsSync(file) || (await sha256File(file)) !== shard.sha256) break;
    kept.push(shard);
  }
  return kept;
}

function abortIfAsked(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason ?? new Error('preparation aborted');
}

export async function encodeShards(opts: EncodeShardsOptions): Promise<EncodeShardsResult> {
  const { outDir, key, latentShape, embedShape, shardSize, batchSize } = opts;
  if (!(shardSize >= 1 && batchSize >= 1)) throw new Error(`shardSize and batchSize must be at least 1 (got ${shardSize}, ${batchSize})`);
  await mkdir(outDir, { recursive: true });
  const existing = tryReadManifest(outDir);
  if (existing && existing.key === key && sameShape(existing.latent_shape, latentShape) && sameShape(existing.embed_shape, embedShape))
    return { manifest: existing, cached: true, resumed_shards: 0, dropped: 0 };
  if (existing) rmSync(join(outDir, MANIFEST_FILE));

  const shards = await resumableShards(opts);
  const keptFiles = new Set(shards.map((s) => s.file));
  for (const name of readdirSync(outDir))
    if (/^shard-\d+\.safetensors/.test(name) && !keptFiles.has(name)) rmSync(join(outDir, name)); // leftovers of a stale run
  const resumeFrom = shards.length ? shards[shards.length - 1].source_end : 0;
  const L = numel(latentShape);
  const E = numel(embedShape);
  const R = opts.resolution;
  const imageSize = 3 * R * R;
  const P = opts.pooled?.width ?? 0;
  let pairsDone = shards.reduce((a, s) => a + s.pairs, 0);
  let dropped = 0;
  const pending: EncodedPair[] = [];
  const report = () => opts.onProgress?.({ pairs_done: pairsDone, pairs_total: opts.pairsTotal, shards_done: shards.length });

  const flushShard = async (count: number) => {
    const take = pending.splice(0, count);
    const n = take.length;
    const tensors: ShardTensors = { pairs: n, chosen: new Float32Array(n * L), rejected: new Float32Array(n * L), embeds: new Float32Array(n * E) };
    if (P) tensors.added = { pooled: new Float32Array(n * P), chosenTimeIds: new Float32Array(n * TIME_IDS), rejectedTimeIds: new Float32Array(n * TIME_IDS) };
    take.forEach((p, i) => {
      tensors.chosen.set(p.chosen, i * L);
      tensors.rejected.set(p.rejected, i * L);
      tensors.embeds.set(p.embeds, i * E);
      if (tensors.added) {
        tensors.added.pooled.set(p.added!.pooled, i * P);
        tensors.added.chosenTimeIds.set(p.added!.chosenTimeIds, i * TIME_IDS);
        tensors.added.rejectedTimeIds.set(p.added!.rejectedTimeIds, i * TIME_IDS);
      }
    });
    const entry = await writeShard(outDir, shards.length, tensors, latentShape, embedShape, key);
    shards.push({ ...entry, source_end: take[take.length - 1].sourceEnd });
    writeJsonAtomic(join(outDir, PROGRESS_FILE), { version: MANIFEST_VERSION, key, latent_shape: latentShape, embed_shape: embedShape, shards } satisfies Progress);
    report();
    abortIfAsked(opts.signal);
  };

  const encodeBatch = async (batch: { row: PairRow; sourceEnd: number }[]) => {
    const decoded = await decodeBatch(
      [...batch.map((b) => b.row.chosen), ...batch.map((b) => b.row.rejected)],
      { resolution: R, background: opts.background, ...opts.imageLimits, concurrency: opts.decodeConcurrency },
    );
    const usable = batch.map((b, i) => ({ ...b, c: decoded[i], r: decoded[batch.length + i] })).filter((b) => b.c.ok && b.r.ok);
    dropped += batch.length - usable.length;
    if (!usable.length) return;
    const n = usable.length;
    const images = new Float32Array(2 * n * imageSize);
    usable.forEach((b, i) => {
      images.set((b.c as { pixels: Float32Array }).pixels, i * imageSize);
      images.set((b.r as { pixels: Float32Array }).pixels, (n + i) * imageSize);
    });
    const latents = await opts.encodeImages(images, 2 * n);
    if (latents.length !== 2 * n * L)
      throw new DatasetError('prepare_mismatch', `encodeImages returned ${latents.length} values for ${2 * n} images; latent shape [${latentShape}] needs ${2 * n * L}`);
    const encoded = await opts.encodePrompts(usable.map((b) => b.row.prompt));
    const embeds = encoded instanceof Float32Array ? encoded : encoded.embeds;
    const pooled = encoded instanceof Float32Array ? null : encoded.pooled;
    if (P && pooled?.length !== n * P)
      throw new DatasetError('prepare_mismatch', `encodePrompts returned ${pooled?.length ?? 0} pooled values for ${n} prompts; pooled width ${P} needs ${n * P}`);
    if (embeds.length !== n * E)
      throw new DatasetError('prepare_mismatch', `encodePrompts returned ${embeds.length} values for ${n} prompts; embed shape [${embedShape}] needs ${n * E}`);
    usable.forEach((b, i) =>
      pending.push({
        chosen: latents.slice(i * L, (i + 1) * L),
        rejected: latents.slice((n + i) * L, (n + i + 1) * L),
        embeds: embeds.slice(i * E, (i + 1) * E),
        added: P
          ? {
              pooled: pooled!.slice(i * P, (i + 1) * P),
              chosenTimeIds: timeIdsVector((b.c as DecodedImage).timeIds),
              rejectedTimeIds: timeIdsVector((b.r as DecodedImage).timeIds),
            }
          : undefined,
        sourceEnd: b.sourceEnd,
      }),
    );
    pairsDone += n;
    report();
    while (pending.length >= shardSize) await flushShard(shardSize);
  };

  let position = 0;
  let batch: { row: PairRow; sourceEnd: number }[] = [];
  for await (const row of opts.source) {
    position++;
    if (position <= resumeFrom) continue;
    if (isDropped(row) || Buffer.compare(row.chosen, row.rejected) === 0) {
      dropped++;
      continue;
    }
    batch.push({ row, sourceEnd: position });
    if (batch.length === batchSize) {
      abortIfAsked(opts.signal);
      await encodeBatch(batch);
      batch = [];
    }
  }
  abortIfAsked(opts.signal);
  if (batch.length) await encodeBatch(batch);
  if (pending.length) await flushShard(pending.length);

  const total = shards.reduce((a, s) => a + s.pairs, 0);
  if (total === 0) throw new DatasetError('prepare_empty', 'no usable pairs: every row was dropped (run validation to see why)');
  writeUncond(outDir, opts.uncondEmbedding, embedShape, key, opts.pooled?.uncond);
  const manifest: PreparedManifest = {
    version: MANIFEST_VERSION,
    key,
    shards: shards.map(({ file, pairs, sha256 }) => ({ file, pairs, sha256 })),
    total_pairs: total,
    latent_shape: latentShape,
    embed_shape: embedShape,
    uncond_file: UNCOND_FILE,
    ...(P && { pooled_width: P }),
  };
  writeJsonAtomic(join(outDir, MANIFEST_FILE), manifest);
  rmSync(join(outDir, PROGRESS_FILE), { force: true });
  return { manifest, cached: false, resumed_shards: keptFiles.size, dropped };
}
