import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/**
 * Hex SHA-256 of a file's bytes, read as a stream (weights files are gigabytes). The one implementation: shard
 * manifests, built-in model uploads (`files_sha256`), adapters' `base_model_sha256` and the prepared-shard cache
 * all compare hashes made by it.
 */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
