import { existsSync, fsyncSync, closeSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { numel, SafetensorsFile, writeSafetensors } from '@npo/graph';
import { sha256File } from '@npo/contracts';
import { TIME_IDS } from '../unet/config.ts';
import { DatasetError } from './errors.ts';

/**
 * The prepared cache of one (dataset, model, resolution): latents of both images and prompt embeddings, as sharded
 * safetensors (`chosen` [n,C,h,w], `rejected` [n,C,h,w], `embeds` [n,T,D], float32), the unconditional embedding
 * once in `uncond.safetensors` (`embeds` [1,T,D]), and `manifest.json`, written last and atomically: a folder with a
 * manifest is complete, one without is not.
 */

export const MANIFEST_FILE = 'manifest.json';
export const UNCOND_FILE = 'uncond.safetensors';
export const MANIFEST_VERSION = 1;

export interface ShardEntry {
  file: string;
  pairs: number;
  sha256: string;
}

export interface PreparedManifest {
  version: number;
  key: string;
  shards: ShardEntry[];
  total_pairs: number;
  /** [C, h, w] of one image's latent (for a pixel-space model, [3, R, R]). */
  latent_shape: number[];
  /** [T, D] of one prompt embedding. */
  embed_shape: number[];
  uncond_file: string;
  /** text_time (SDXL) models: width of the pooled prompt embedding; the shards then also hold `pooled` [n, P] and each image's time ids. */
  pooled_width?: number;
}

/** What a text_time (SDXL) model needs beside latents and prompt embeddings, per pair. */
export interface ShardAdded {
  /** [n, P] pooled prompt embeddings */
  pooled: Float32Array;
  /** [n, 6] micro-conditioning of each pair's chosen and rejected image (original size, crop top-left, target size) */
  chosenTimeIds: Float32Array;
  rejectedTimeIds: Float32Array;
}

export interface ShardTensors {
  pairs: number;
  chosen: Float32Array;
  rejected: Float32Array;
  embeds: Float32Array;
  added?: ShardAdded;
}

export function shardFileName(i: number): string {
  return `shard-${String(i).padStart(5, '0')}.safetensors`;
}

/** Writes JSON via a temporary file, fsync and rename: readers see the old file or the new one, never half of one. */
export function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, JSON.stringify(value, null, 2) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export async function writeShard(
  dir: string,
  index: number,
  shard: ShardTensors,
  latentShape: number[],
  embedShape: number[],
  key: string,
): Promise<ShardEntry> {
  const file = shardFileName(index);
  const n = shard.pairs;
  const a = shard.added;
  writeSafetensors(
    join(dir, file),
    {
      chosen: { dtype: 'float32', shape: [n, ...latentShape], data: shard.chosen },
      rejected: { dtype: 'float32', shape: [n, ...latentShape], data: shard.rejected },
      embeds: { dtype: 'float32', shape: [n, ...embedShape], data: shard.embeds },
      ...(a && {
        pooled: { dtype: 'float32', shape: [n, a.pooled.length / n], data: a.pooled },
        chosen_time_ids: { dtype: 'float32', shape: [n, TIME_IDS], data: a.chosenTimeIds },
        rejected_time_ids: { dtype: 'float32', shape: [n, TIME_IDS], data: a.rejectedTimeIds },
      }),
    },
    { key },
  );
  return { file, pairs: n, sha256: await sha256File(join(dir, file)) };
}

export function writeUncond(dir: string, uncond: Float32Array, embedShape: number[], key: string, uncondPooled?: Float32Array): void {
  if (uncond.length !== numel(embedShape))
    throw new DatasetError('prepare_mismatch', `unconditional embedding has ${uncond.length} values, embed shape [${embedShape}] needs ${numel(embedShape)}`);
  writeSafetensors(
    join(dir, UNCOND_FILE),
    {
      embeds: { dtype: 'float32', shape: [1, ...embedShape], data: uncond },
      ...(uncondPooled && { pooled: { dtype: 'float32', shape: [1, uncondPooled.length], data: uncondPooled } }),
    },
    { key },
  );
}

export function readManifest(dir: string): PreparedManifest {
  const path = join(dir, MANIFEST_FILE);
  let m: PreparedManifest;
  try {
    m = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new DatasetError('shards_corrupt', `${path} is missing or not JSON: the dataset is not prepared (${(e as Error).message})`);
  }
  if (m.version !== MANIFEST_VERSION || !Array.isArray(m.shards) || !Array.isArray(m.latent_shape) || !Array.isArray(m.embed_shape))
    throw new DatasetError('shards_corrupt', `${path} is not a version-${MANIFEST_VERSION} prepared-dataset manifest`);
  return m;
}

export function tryReadManifest(dir: string): PreparedManifest | undefined {
  return existsSync(join(dir, MANIFEST_FILE)) ? readManifest(dir) : undefined;
}

/** Reads one shard's three tensors, checking them against the manifest's shapes. */
export function readShard(dir: string, entry: ShardEntry, manifest: PreparedManifest): ShardTensors {
  const file = SafetensorsFile.open(join(dir, entry.file));
  const n = entry.pairs;
  const expect: Record<string, number[]> = {
    chosen: [n, ...manifest.latent_shape],
    rejected: [n, ...manifest.latent_shape],
    embeds: [n, ...manifest.embed_shape],
    ...(manifest.pooled_width && { pooled: [n, manifest.pooled_width], chosen_time_ids: [n, TIME_IDS], rejected_time_ids: [n, TIME_IDS] }),
  };
  for (const [name, shape] of Object.entries(expect)) {
    const e = file.entry(name);
    if (e.dtype !== 'float32' || e.shape.join(',') !== shape.join(','))
      throw new DatasetError('shards_corrupt', `${entry.file}: '${name}' is ${e.dtype} [${e.shape}], the manifest says float32 [${shape}]`);
  }
  return {
    pairs: n,
    chosen: file.read('chosen').data as Float32Array,
    rejected: file.read('rejected').data as Float32Array,
    embeds: file.read('embeds').data as Float32Array,
    added: manifest.pooled_width
      ? {
          pooled: file.read('pooled').data as Float32Array,
          chosenTimeIds: file.read('chosen_time_ids').data as Float32Array,
          rejectedTimeIds: file.read('rejected_time_ids').data as Float32Array,
        }
      : undefined,
  };
}

export function readUncond(dir: string, manifest: PreparedManifest): Float32Array {
  return SafetensorsFile.open(join(dir, manifest.uncond_file)).read('embeds').data as Float32Array;
}

/** The empty prompt's pooled embedding, for text_time (SDXL) datasets; undefined for others. */
export function readUncondPooled(dir: string, manifest: PreparedManifest): Float32Array | undefined {
  if (!manifest.pooled_width) return undefined;
  return SafetensorsFile.open(join(dir, manifest.uncond_file)).read('pooled').data as Float32Array;
}
