import { isAbsolute, join, posix, relative, resolve } from 'node:path';
import { ArchiveError } from './errors.ts';

/** Bounds on what an uploaded archive may make us write. Defaults suit a large preference set (~100k pairs). */
export interface ArchiveLimits {
  /** Size of the archive file itself. */
  maxArchiveBytes: number;
  /** Number of entries (files and folders). */
  maxEntries: number;
  /** Uncompressed size of any one entry. */
  maxEntryBytes: number;
  /** Uncompressed size of everything together. */
  maxTotalBytes: number;
  /**
   * Largest uncompressed/compressed ratio accepted for entries (zip) or the whole stream (tar.gz) above
   * `ratioCheckMinBytes`. Images barely compress, text ~10×; deflate's ceiling is ~1032×, reached only by filler.
   */
  maxCompressionRatio: number;
  ratioCheckMinBytes: number;
}

export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = {
  maxArchiveBytes: 20 * 1024 ** 3,
  maxEntries: 500_000,
  maxEntryBytes: 256 * 1024 ** 2,
  maxTotalBytes: 40 * 1024 ** 3,
  maxCompressionRatio: 100,
  ratioCheckMinBytes: 1024 * 1024,
};

export function limitsWithDefaults(limits: Partial<ArchiveLimits> = {}): ArchiveLimits {
  return { ...DEFAULT_ARCHIVE_LIMITS, ...limits };
}

/**
 * Maps an entry name to a path inside `root`, or throws `archive_path_traversal`. Backslashes count as separators
 * (archives made on Windows), so `..\..\x` is caught too. Refuses absolute paths, drive letters, NUL, and any `..`
 * segment outright instead of normalising it away: a dataset has no business containing one. A folder entry naming the
 * root itself (`./`, what `tar -C dir .` writes first) maps to `root`.
 */
export function safeEntryPath(root: string, name: string, opts: { folder?: boolean } = {}): string {
  const unified = name.replace(/\\/g, '/');
  const refuse = (why: string) => {
    throw new ArchiveError('archive_path_traversal', `archive entry '${name}' ${why}; entries must be relative paths inside the archive`, { entry: name });
  };
  if (unified.includes('\0')) refuse('contains a NUL byte');
  if (unified.startsWith('/') || isAbsolute(unified)) refuse('is an absolute path');
  if (/^[A-Za-z]:/.test(unified)) refuse('starts with a drive letter');
  if (unified.split('/').some((seg) => seg === '..')) refuse("contains a '..' segment");
  const normal = posix.normalize(unified);
  const target = resolve(root, normal);
  const rel = relative(root, target);
  if (rel === '' && opts.folder) return root;
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) refuse('resolves outside the extraction folder');
  return join(root, rel);
}

/** Running totals checked as entries are seen and as their bytes arrive (declared sizes may lie). */
export class ArchiveBudget {
  entries = 0;
  totalBytes = 0;
  constructor(readonly limits: ArchiveLimits) {}

  countEntry(name: string): void {
    if (++this.entries > this.limits.maxEntries)
      throw new ArchiveError('archive_too_many_entries', `archive has more than ${this.limits.maxEntries} entries (at '${name}')`, {
        limit: this.limits.maxEntries,
      });
  }

  checkDeclared(name: string, uncompressed: number, compressed?: number): void {
    if (uncompressed > this.limits.maxEntryBytes)
      throw new ArchiveError('archive_entry_too_large', `archive entry '${name}' is ${uncompressed} bytes uncompressed, the limit is ${this.limits.maxEntryBytes}`, {
        entry: name,
        bytes: uncompressed,
        limit: this.limits.maxEntryBytes,
      });
    if (compressed !== undefined && uncompressed >= this.limits.ratioCheckMinBytes && uncompressed > this.limits.maxCompressionRatio * Math.max(compressed, 1))
      throw new ArchiveError('archive_bomb', `archive entry '${name}' expands ${compressed} bytes into ${uncompressed} (more than ${this.limits.maxCompressionRatio}×): refusing a likely zip bomb`, {
        entry: name,
        compressed,
        uncompressed,
      });
  }

  /** Adds bytes actually written for an entry; `declared` is the size its header promised. */
  addBytes(name: string, entryBytesSoFar: number, n: number, declared?: number): void {
    this.totalBytes += n;
    if (declared !== undefined && entryBytesSoFar > declared)
      throw new ArchiveError('archive_bomb', `archive entry '${name}' holds more data than its declared ${declared} bytes`, { entry: name, declared });
    if (entryBytesSoFar > this.limits.maxEntryBytes)
      throw new ArchiveError('archive_entry_too_large', `archive entry '${name}' exceeds ${this.limits.maxEntryBytes} bytes uncompressed`, {
        entry: name,
        limit: this.limits.maxEntryBytes,
      });
    if (this.totalBytes > this.limits.maxTotalBytes)
      throw new ArchiveError('archive_too_large', `archive expands past ${this.limits.maxTotalBytes} bytes in total`, { limit: this.limits.maxTotalBytes });
  }
}
