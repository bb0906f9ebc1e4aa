import { mkdir } from 'node:fs/promises';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { ArchiveBudget, safeEntryPath } from './archive-limits.ts';
import { writeEntry } from './archive-write.ts';
import { ArchiveError } from './errors.ts';

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

function openZip(path: string): Promise<ZipFile> {
  return new Promise((resolveZip, reject) =>
    // decodeStrings: false so that bad names reach our own checks (and our error codes) instead of yauzl's.
    yauzl.open(path, { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true }, (err, zip) =>
      err ? reject(new ArchiveError('archive_corrupt', `not a readable zip file: ${err.message}`)) : resolveZip(zip),
    ),
  );
}

/** Reads the whole central directory first (names, types, declared sizes), so a bad entry is refused before any write. */
function listEntries(zip: ZipFile, budget: ArchiveBudget): Promise<{ entry: Entry; name: string }[]> {
  return new Promise((resolveList, reject) => {
    const out: { entry: Entry; name: string }[] = [];
    let declaredTotal = 0;
    zip.on('error', (e) => reject(e instanceof ArchiveError ? e : new ArchiveError('archive_corrupt', `zip is corrupt: ${e.message}`)));
    zip.on('end', () => resolveList(out));
    zip.on('entry', (entry: Entry) => {
      try {
        const name = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, false);
        budget.countEntry(name);
        const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
        if (mode === S_IFLNK)
          throw new ArchiveError('archive_link_entry', `archive entry '${name}' is a symbolic link; links are not accepted in uploaded archives`, { entry: name });
        if (mode !== 0 && mode !== S_IFREG && mode !== S_IFDIR)
          throw new ArchiveError('archive_unsupported_entry', `archive entry '${name}' is not a regular file or folder`, { entry: name });
        if (entry.isEncrypted())
          throw new ArchiveError('archive_unsupported_entry', `archive entry '${name}' is encrypted`, { entry: name });
        budget.checkDeclared(name, entry.uncompressedSize, entry.compressedSize);
        declaredTotal += entry.uncompressedSize;
        if (declaredTotal > budget.limits.maxTotalBytes)
          throw new ArchiveError('archive_too_large', `archive declares more than ${budget.limits.maxTotalBytes} bytes uncompressed in total`, {
            limit: budget.limits.maxTotalBytes,
          });
        out.push({ entry, name });
        zip.readEntry();
      } catch (e) {
        reject(e);
      }
    });
    if (zip.entryCount > budget.limits.maxEntries)
      return reject(
        new ArchiveError('archive_too_many_entries', `archive has ${zip.entryCount} entries, the limit is ${budget.limits.maxEntries}`, {
          entries: zip.entryCount,
          limit: budget.limits.maxEntries,
        }),
      );
    zip.readEntry();
  });
}

function openEntry(zip: ZipFile, entry: Entry): Promise<Readable> {
  return new Promise((res, rej) => zip.openReadStream(entry, (err, stream) => (err ? rej(err) : res(stream))));
}

export async function extractZip(archivePath: string, root: string, budget: ArchiveBudget): Promise<void> {
  const zip = await openZip(archivePath);
  try {
    const entries = await listEntries(zip, budget);
    const targets = entries.map(({ entry, name }) => ({ entry, name, target: safeEntryPath(root, name, { folder: /[/\\]$/.test(name) }) }));
    for (const { entry, name, target } of targets) {
      if (name.endsWith('/') || name.endsWith('\\')) {
        await mkdir(target, { recursive: true });
        continue;
      }
      await mkdir(dirname(target), { recursive: true });
      let stream: Readable;
      try {
        stream = await openEntry(zip, entry);
      } catch (e) {
        throw new ArchiveError('archive_corrupt', `archive entry '${name}' cannot be read: ${(e as Error).message}`, { entry: name });
      }
      await writeEntry(stream, target, name, budget, entry.uncompressedSize);
    }
  } finally {
    zip.close();
  }
}
