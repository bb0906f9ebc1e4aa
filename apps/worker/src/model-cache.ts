import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Storage } from '@npo/platform';
import { markUsed } from './cache-eviction.ts';

/**
 * A model's files on local disk, downloaded once per worker host (a `.complete` marker makes it all-or-nothing).
 * `filesSha256` (the content hash start-up records for built-in models) keys the cache, so a replaced model is
 * downloaded again instead of silently reusing the old files.
 */
export async function localModelDir(storage: Storage, dataDir: string, modelId: string, s3Prefix: string, filesSha256?: string): Promise<string> {
  const dir = join(dataDir, 'cache', 'models', filesSha256 ? `${modelId}-${filesSha256.slice(0, 16)}` : modelId);
  if (existsSync(join(dir, '.complete'))) {
    await markUsed(dir);
    return dir;
  }
  const tmp = `${dir}.partial-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await storage.downloadPrefix(s3Prefix, tmp);
  await writeFile(join(tmp, '.complete'), new Date().toISOString());
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  await markUsed(dir);
  return dir;
}
