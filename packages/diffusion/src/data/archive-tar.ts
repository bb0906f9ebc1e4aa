import { createReadStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { ArchiveBudget, safeEntryPath } from './archive-limits.ts';
import { writeEntry } from './archive-write.ts';
import { ArchiveError } from './errors.ts';

function byteCounter(onBytes: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      try {
        onBytes(chunk.length);
      } catch (e) {
        return done(e as Error);
      }
      done(null, chunk);
    },
  });
}

/**
 * Extracts a .tar (or .tar.gz when `gzip`) entry by entry as it streams. Tar has no per-entry compression, so the
 * bomb check for .tar.gz is on the whole stream: decompressed bytes against compressed bytes read so far.
 */
export async function extractTar(archivePath: string, root: string, budget: ArchiveBudget, gzip: boolean): Promise<void> {
  const { limits } = budget;
  const extract = tar.extract();
  const stages: (Readable | Transform)[] = [createReadStream(archivePath)];
  if (gzip) {
    let compressed = 0;
    let expanded = 0;
    stages.push(byteCounter((n) => (compressed += n)), createGunzip(), byteCounter((n) => {
      expanded += n;
      if (expanded >= limits.ratioCheckMinBytes && expanded > limits.maxCompressionRatio * compressed)
        throw new ArchiveError('archive_bomb', `gzip stream expands ${compressed} bytes into more than ${expanded} (over ${limits.maxCompressionRatio}×): refusing a likely decompression bomb`, {
          compressed,
          expanded,
        });
      if (expanded > limits.maxTotalBytes + limits.maxEntries * 1024)
        throw new ArchiveError('archive_too_large', `archive expands past ${limits.maxTotalBytes} bytes in total`, { limit: limits.maxTotalBytes });
    }));
  }
  const feeding = (pipeline as (streams: unknown[]) => Promise<void>)([...stages, extract]);
  const feedResult = feeding.then(() => undefined, (e: unknown) => e);
  try {
    for await (const entry of extract) {
      const { name, type, size } = entry.header;
      budget.countEntry(name);
      if (type === 'symlink' || type === 'link')
        throw new ArchiveError('archive_link_entry', `archive entry '${name}' is a ${type === 'link' ? 'hard' : 'symbolic'} link; links are not accepted in uploaded archives`, {
          entry: name,
        });
      const target = safeEntryPath(root, name, { folder: type === 'directory' });
      if (type === 'directory') {
        await mkdir(target, { recursive: true });
        entry.resume();
        continue;
      }
      if (type !== 'file' && type !== 'contiguous-file')
        throw new ArchiveError('archive_unsupported_entry', `archive entry '${name}' is a ${type}, not a regular file or folder`, { entry: name });
      budget.checkDeclared(name, size);
      await mkdir(dirname(target), { recursive: true });
      await writeEntry(Readable.from(entry), target, name, budget, size);
    }
    await feeding;
  } catch (e) {
    extract.destroy();
    if (e instanceof ArchiveError) throw e;
    // The loop saw only the symptom (a destroyed stream): the cause, if it is ours, comes from the feeding pipeline.
    const fed = await feedResult;
    const cause = fed instanceof ArchiveError ? fed : e;
    if (cause instanceof ArchiveError) throw cause;
    throw new ArchiveError('archive_corrupt', `not a readable ${gzip ? 'tar.gz' : 'tar'} archive: ${(cause as Error).message}`);
  }
}
