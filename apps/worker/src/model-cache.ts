import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Storage } from '@npo/platform';

/** A model's files on local disk, downloaded once per worker host (a `.complete` marker makes it all-or-nothing). */
export async function localModelDir(storage: Storage, dataDir: string, modelId: string, s3Prefix: string): Promise<string> {
  const dir = join(dataDir, 'cache', 'models', modelId);
  if (existsSync(join(dir, '.complete'))) return dir;
  const tmp = `${dir}.partial-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await storage.downloadPrefix(s3Prefix, tmp);
  await writeFile(join(tmp, '.complete'), new Date().toISOString());
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  return dir;
}
