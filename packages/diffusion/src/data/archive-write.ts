import { createWriteStream } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArchiveBudget } from './archive-limits.ts';
import { ArchiveError } from './errors.ts';

/**
 * Streams one entry to `target`, counting the bytes as they come (declared sizes may lie) and stopping the moment a
 * limit is crossed. `wx` refuses to overwrite, so a duplicate name cannot replace a file already extracted.
 */
export async function writeEntry(source: Readable, target: string, name: string, budget: ArchiveBudget, declared?: number): Promise<void> {
  let written = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      written += chunk.length;
      try {
        budget.addBytes(name, written, chunk.length, declared);
      } catch (e) {
        return done(e as Error);
      }
      done(null, chunk);
    },
  });
  try {
    await pipeline(source, counter, createWriteStream(target, { flags: 'wx' }));
  } catch (e) {
    if (e instanceof ArchiveError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EEXIST') throw new ArchiveError('archive_duplicate_entry', `archive holds '${name}' more than once`, { entry: name });
    // yauzl reports a stream longer/shorter than the header says with these messages.
    if (/too many bytes|too few bytes|uncompressed/i.test(err.message ?? ''))
      throw new ArchiveError('archive_bomb', `archive entry '${name}' does not match its declared size: ${err.message}`, { entry: name });
    throw new ArchiveError('archive_corrupt', `archive entry '${name}' could not be extracted: ${err.message}`, { entry: name });
  }
}
