import { createHash } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { S3Keys } from '@npo/contracts';
import { sha256File } from '@npo/contracts';
import { MANIFEST_FILE, MANIFEST_VERSION, tryReadManifest, type PreparedManifest } from '@npo/diffusion';
import type { Storage } from '@npo/platform';
import { markUsed } from './cache-eviction.ts';

/**
 * Prepared shards (latents and prompt embeddings) shared by all workers through S3 under `prepared/<dataset id>/<hash>/`, so a
 * dataset is encoded once per model, not once per worker disk. The key is what determines the shards: dataset and
 * model (immutable per id; a built-in model's files_sha256 names its file version) and resolution — not how they were
 * encoded (the VAE's batch is a memory choice of the preparing worker; latents are per image). `manifest.json`
 * is uploaded last: a prefix without one is incomplete and ignored.
 */
export function preparedCacheKey(p: { datasetId: string; modelId: string; modelFilesSha256?: string; resolution: number }): string {
  const hash = createHash('sha256').update(JSON.stringify([MANIFEST_VERSION, p.datasetId, p.modelId, p.modelFilesSha256 ?? null, p.resolution])).digest('hex');
  // the dataset's id leads the key, so deleting the dataset deletes every prepared form of it (S3Keys.datasetPrepared)
  return `${p.datasetId}/${hash}`;
}

/** The S3 prefix of a cache key (`<dataset id>/<hash>`). */
export const preparedPrefix = (key: string) => {
  const [datasetId, hash] = key.split('/');
  return S3Keys.prepared(datasetId, hash);
};

export type PreparedSource = 'local' | 's3';

/** The complete local copy in `dir`, else S3's (downloaded, shard hashes checked, moved into `dir`), else null. */
export async function fetchPrepared(storage: Storage, key: string, dir: string): Promise<{ manifest: PreparedManifest; source: PreparedSource } | null> {
  const local = readableManifest(dir);
  if (local) {
    await markUsed(dir);
    return { manifest: local, source: 'local' };
  }
  await rm(join(dir, MANIFEST_FILE), { force: true }); // damaged: prepare again (the resumable shards are re-checked)
  const prefix = preparedPrefix(key);
  if (!(await isPublished(storage, key))) return null;
  const tmp = `${dir}.partial-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    await storage.downloadPrefix(prefix, tmp);
    const manifest = readableManifest(tmp);
    if (!manifest || !(await shardsIntact(tmp, manifest))) return null;
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    await markUsed(dir);
    return { manifest, source: 's3' };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

export async function isPublished(storage: Storage, key: string): Promise<boolean> {
  return (await storage.head(`${preparedPrefix(key)}/${MANIFEST_FILE}`)) !== null;
}

/** Uploads the shards and the unconditional embedding of a complete `dir`, then its manifest. */
export async function publishPrepared(storage: Storage, key: string, dir: string): Promise<void> {
  const manifest = tryReadManifest(dir);
  if (!manifest) throw new Error(`${dir} holds no complete prepared dataset (no ${MANIFEST_FILE})`);
  const prefix = preparedPrefix(key);
  for (const file of [...manifest.shards.map((s) => s.file), manifest.uncond_file]) await storage.uploadFile(`${prefix}/${file}`, join(dir, file));
  await storage.uploadFile(`${prefix}/${MANIFEST_FILE}`, join(dir, MANIFEST_FILE));
}

/** A damaged manifest is treated as none: the folder is then prepared (or fetched) again instead of failing jobs. */
function readableManifest(dir: string): PreparedManifest | undefined {
  try {
    return tryReadManifest(dir);
  } catch {
    return undefined;
  }
}

async function shardsIntact(dir: string, manifest: PreparedManifest): Promise<boolean> {
  for (const shard of manifest.shards) {
    try {
      if ((await sha256File(join(dir, shard.file))) !== shard.sha256) return false;
    } catch {
      return false;
    }
  }
  return true;
}
