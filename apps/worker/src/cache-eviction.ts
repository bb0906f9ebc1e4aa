import { existsSync } from 'node:fs';
import { readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

// A worker's disk caches (model folders, prepared shards) stay under CACHE_MAX_BYTES: the least recently used
// entries are removed first. An entry is a folder; its last use is the mtime of its `.last-used` marker (or of the
// folder, for one never marked). Eviction runs only while the worker runs no job (CacheGate), so it never removes a
// folder a job is reading; one worker process per DATA_DIR is assumed (as the deployment files run it).

const MARKER = '.last-used';

/** Records that `dir` was used now (called whenever a cache hands a folder out). */
export async function markUsed(dir: string): Promise<void> {
  const marker = join(dir, MARKER);
  const now = new Date();
  try {
    await utimes(marker, now, now);
  } catch {
    await writeFile(marker, '').catch(() => {}); // a folder removed meanwhile: nothing to mark
  }
}

export interface CacheEntry { dir: string; bytes: number; lastUsed: number }

/** The cache folders: `cache/models/<model>` and `cache/prepared/<dataset>/<hash>`, without unfinished `.partial-*` ones. */
export async function cacheEntries(dataDir: string): Promise<CacheEntry[]> {
  const dirs = [
    ...(await subdirs(join(dataDir, 'cache', 'models'))),
    ...(await Promise.all((await subdirs(join(dataDir, 'cache', 'prepared'))).map(subdirs))).flat(),
  ].filter((d) => !d.includes('.partial-'));
  return Promise.all(dirs.map(async (dir) => {
    const marker = join(dir, MARKER);
    const lastUsed = (await stat(existsSync(marker) ? marker : dir)).mtimeMs;
    return { dir, bytes: await sizeOf(dir), lastUsed };
  }));
}

/** Removes least recently used entries until the caches hold at most `maxBytes`; returns what was removed. */
export async function evictLeastRecentlyUsed(dataDir: string, maxBytes: number): Promise<CacheEntry[]> {
  const entries = (await cacheEntries(dataDir)).sort((a, b) => a.lastUsed - b.lastUsed);
  let total = entries.reduce((a, e) => a + e.bytes, 0);
  const removed: CacheEntry[] = [];
  for (const e of entries) {
    if (total <= maxBytes) break;
    await rm(e.dir, { recursive: true, force: true });
    total -= e.bytes;
    removed.push(e);
  }
  return removed;
}

/**
 * Runs jobs through `wrap`; when the last running job ends and the caches are over their size, evicts before the next
 * job may start, so eviction and the jobs that read the caches never overlap.
 */
export class CacheGate {
  private active = 0;
  private evicting: Promise<void> = Promise.resolve();
  constructor(private readonly o: { dataDir: string; maxBytes: number; onEvicted?: (removed: CacheEntry[]) => void; onError?: (err: Error) => void }) {}

  wrap<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return async (...args: A) => {
      await this.evicting;
      this.active++;
      try {
        return await fn(...args);
      } finally {
        if (--this.active === 0) this.evicting = this.evict();
      }
    };
  }

  /** Resolves when no eviction is under way (tests, shutdown). */
  settled(): Promise<void> {
    return this.evicting;
  }

  private async evict(): Promise<void> {
    try {
      const removed = await evictLeastRecentlyUsed(this.o.dataDir, this.o.maxBytes);
      if (removed.length) this.o.onEvicted?.(removed);
    } catch (err) {
      this.o.onError?.(err as Error); // a cache that cannot be trimmed now is trimmed after the next job
    }
  }
}

async function subdirs(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => join(dir, e.name));
  } catch {
    return [];
  }
}

async function sizeOf(dir: string): Promise<number> {
  let bytes = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) bytes += (await stat(join(e.parentPath, e.name))).size;
  }
  return bytes;
}
