import { Transform, type Readable } from 'node:stream';
import { PayloadTooLargeError, ValidationError } from '@npo/contracts';
import type { Storage } from '@npo/platform';

export interface UploadedFile { filename: string; file: Readable & { truncated?: boolean }; fields: Record<string, string | undefined> }

/** Counts bytes as they stream past (the upload never sits in memory). */
function byteCounter(): Transform & { bytes: number } {
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      t.bytes += chunk.length;
      cb(null, chunk);
    },
  }) as Transform & { bytes: number };
  t.bytes = 0;
  return t;
}

/**
 * Streams an uploaded file to S3 at `key` and returns its size. On failure, an empty file (400) or a file cut off at
 * the multipart size limit (413) everything under `cleanupPrefix` is deleted, so a refused upload leaves nothing behind.
 */
export async function storeUpload(storage: Storage, key: string, cleanupPrefix: string, file: UploadedFile['file'], maxUploadBytes: number): Promise<number> {
  const tooLarge = () => new PayloadTooLargeError(`upload exceeds the ${maxUploadBytes}-byte limit`, { limit_bytes: maxUploadBytes });
  const counter = byteCounter();
  file.on('error', (err) => counter.destroy(err));
  try {
    await storage.uploadStream(key, file.pipe(counter));
    if (file.truncated) throw tooLarge();
  } catch (err) {
    await storage.deletePrefix(cleanupPrefix).catch(() => {});
    if (file.truncated || (err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') throw tooLarge();
    throw err;
  }
  if (counter.bytes === 0) {
    await storage.deletePrefix(cleanupPrefix).catch(() => {});
    throw new ValidationError('the uploaded file is empty', { field: 'file' }, 'empty_upload');
  }
  return counter.bytes;
}

/** Runs the insert that records a stored upload; if it fails the upload is deleted, so no object outlives a refused row. */
export async function recordUpload<T>(storage: Storage, cleanupPrefix: string, insert: () => Promise<T>): Promise<T> {
  try {
    return await insert();
  } catch (err) {
    await storage.deletePrefix(cleanupPrefix).catch(() => {});
    throw err;
  }
}
