import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CacheGate, cacheEntries, evictLeastRecentlyUsed, markUsed } from '../src/cache-eviction.ts';

function entry(dataDir: string, rel: string, bytes: number, usedAtSec: number) {
  const dir = join(dataDir, 'cache', rel);
  mkdirSync(join(dir, 'sub'), { recursive: true });
  writeFileSync(join(dir, 'sub', 'weights.bin'), Buffer.alloc(bytes));
  writeFileSync(join(dir, '.last-used'), '');
  utimesSync(join(dir, '.last-used'), usedAtSec, usedAtSec);
  return dir;
}

test('the caches are trimmed least recently used first, models and prepared shards alike; unfinished folders are left', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'npo-cache-'));
  try {
    const a = entry(dataDir, 'models/mdl_a', 1000, 1_000_000);
    const b = entry(dataDir, 'models/mdl_b', 2000, 3_000_000);
    const h = entry(dataDir, 'prepared/ds_1/h1', 1500, 2_000_000);
    const partial = entry(dataDir, 'models/mdl_c.partial-123', 5000, 0);
    assert.deepEqual((await cacheEntries(dataDir)).map((e) => [e.dir, e.bytes]).sort(), [[a, 1000], [b, 2000], [h, 1500]].sort());
    await markUsed(a); // a was just used again: now the newest
    const removed = await evictLeastRecentlyUsed(dataDir, 2500);
    assert.deepEqual(removed.map((e) => e.dir), [h, b]);
    assert.ok(existsSync(a) && !existsSync(b) && !existsSync(h) && existsSync(partial));
    assert.deepEqual(await evictLeastRecentlyUsed(dataDir, 2500), [], 'under the size: nothing more');
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('CacheGate: no eviction while any job runs; the next job waits for an eviction under way', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'npo-cache-gate-'));
  try {
    const old = entry(dataDir, 'models/old', 1000, 1_000_000);
    const gate = new CacheGate({ dataDir, maxBytes: 0 });
    let release!: () => void;
    const first = gate.wrap(() => new Promise<void>((r) => { release = r; }))();
    const second = gate.wrap(async () => { await new Promise((r) => setTimeout(r, 20)); return existsSync(old); })();
    assert.equal(await second, true, 'a job ending while another runs does not evict');
    assert.ok(existsSync(old));
    release();
    await first;
    const third = await gate.wrap(async () => existsSync(old))();
    assert.equal(third, false, 'the last job out evicted, before the next one started');
    await gate.settled();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
