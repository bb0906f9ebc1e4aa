import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256File } from '../../../packages/contracts/src/sha256-file.ts';
import { MANIFEST_FILE, MANIFEST_VERSION, UNCOND_FILE, type PreparedManifest } from '../../../packages/diffusion/src/data/shards.ts';
import { createTestContext, type TestContext } from '../../../packages/platform/src/testing.ts';
import { fetchPrepared, preparedCacheKey, preparedPrefix, publishPrepared } from '../src/prepared-cache.ts';

// Against real S3 (s3rver over HTTP): what one worker publishes, another with an empty disk fetches.
let ctx: TestContext;
const scratch = mkdtempSync(join(tmpdir(), 'npo-prepared-'));
before(async () => {
  ctx = await createTestContext('preparedcache');
});
after(async () => {
  await ctx?.close();
  rmSync(scratch, { recursive: true, force: true });
});

let n = 0;
async function preparedFolder(): Promise<{ dir: string; key: string }> {
  const dir = join(scratch, `prepared-${n}`);
  const key = preparedCacheKey({ datasetId: `ds_${n}`, modelId: 'tiny-sd', modelFilesSha256: 'f00d', resolution: 16 });
  n++;
  mkdirSync(dir, { recursive: true });
  const shards = [];
  for (let i = 0; i < 2; i++) {
    const file = `shard-${i}.safetensors`;
    writeFileSync(join(dir, file), Buffer.from(`shard ${i} of ${dir}`));
    shards.push({ file, pairs: 3, sha256: await sha256File(join(dir, file)) });
  }
  writeFileSync(join(dir, UNCOND_FILE), 'uncond');
  writeFileSync(join(dir, 'progress.json'), '{}'); // not part of a complete folder: never uploaded
  const manifest: PreparedManifest = { version: MANIFEST_VERSION, key, shards, total_pairs: 6, latent_shape: [3, 16, 16], embed_shape: [8, 32], uncond_file: UNCOND_FILE };
  writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify(manifest));
  return { dir, key };
}

test('the cache key names dataset, model version and resolution', () => {
  const k = { datasetId: 'ds_1', modelId: 'tiny-sd', modelFilesSha256: 'abc', resolution: 16 };
  assert.match(preparedCacheKey(k), /^ds_1\/[0-9a-f]{64}$/);
  assert.equal(preparedCacheKey(k), preparedCacheKey({ ...k }));
  for (const change of [{ datasetId: 'ds_2' }, { modelId: 'other' }, { modelFilesSha256: 'abd' }, { modelFilesSha256: undefined }, { resolution: 32 }])
    assert.notEqual(preparedCacheKey({ ...k, ...change }), preparedCacheKey(k), JSON.stringify(change));
});

test('published by one worker, fetched by another with an empty disk; a local complete copy needs no S3', async () => {
  const { dir, key } = await preparedFolder();
  assert.equal(await fetchPrepared(ctx.storage, key, join(scratch, 'nothing-yet')), null);
  await publishPrepared(ctx.storage, key, dir);
  const keys = await ctx.storage.list(preparedPrefix(key));
  assert.deepEqual(keys.map((k) => k.slice(preparedPrefix(key).length + 1)).sort(), [MANIFEST_FILE, 'shard-0.safetensors', 'shard-1.safetensors', UNCOND_FILE].sort());

  const other = join(scratch, 'other-worker', key);
  const fetched = await fetchPrepared(ctx.storage, key, other);
  assert.equal(fetched?.source, 's3');
  assert.equal(fetched?.manifest.total_pairs, 6);
  for (const f of ['shard-0.safetensors', 'shard-1.safetensors', UNCOND_FILE, MANIFEST_FILE]) assert.deepEqual(readFileSync(join(other, f)), readFileSync(join(dir, f)), f);
  assert.ok(!existsSync(`${other}.partial-${process.pid}`));

  await ctx.storage.deletePrefix(preparedPrefix(key));
  assert.equal((await fetchPrepared(ctx.storage, key, other))?.source, 'local');
});

test('a prefix without its manifest (an upload cut short) or with a damaged shard is not used', async () => {
  const { dir, key } = await preparedFolder();
  const prefix = preparedPrefix(key);
  await ctx.storage.uploadFile(`${prefix}/shard-0.safetensors`, join(dir, 'shard-0.safetensors'));
  assert.equal(await fetchPrepared(ctx.storage, key, join(scratch, 'cut-short')), null);

  await publishPrepared(ctx.storage, key, dir);
  await ctx.storage.putBuffer(`${prefix}/shard-1.safetensors`, 'flipped bits');
  const target = join(scratch, 'damaged');
  assert.equal(await fetchPrepared(ctx.storage, key, target), null);
  assert.ok(!existsSync(target) && !existsSync(`${target}.partial-${process.pid}`), 'nothing half-written is left');
});

test('a damaged local manifest is dropped so the folder is prepared again', async () => {
  const { dir, key } = await preparedFolder();
  writeFileSync(join(dir, MANIFEST_FILE), '{"version": 1, "shar');
  assert.equal(await fetchPrepared(ctx.storage, key, dir), null);
  assert.ok(!existsSync(join(dir, MANIFEST_FILE)));
  assert.ok(existsSync(join(dir, 'shard-0.safetensors')), 'shards stay for the resumable prepare to check');
  await assert.rejects(publishPrepared(ctx.storage, key, dir), /no complete prepared dataset/);
});
