import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { estimateVaeEncodeMemory, readManifest, readShard, readVaeConfig, writeTinySdxlFolder, type VaeConfig } from '@npo/diffusion';
import { parseVaeConfig } from '../../diffusion/src/vae/config.ts';
import { colourImage, writePickAPicParquet } from '../../diffusion/test/fixtures/data/make.ts';
import { encodeDatasetForModel } from '../src/encode-dataset.ts';
import { chooseVaeEncodeBatch, VAE_ENCODE_BATCHES } from '../src/vae-encode-batch.ts';

// Preparation's VAE encoder batch comes from the memory budget: SD1.5's encoder needs ~8 GB of activations for 16
// images at 512 px, so a fixed batch of 16 would not fit beside the rest. The batch must change the memory, not the
// latents or the prepared cache's key.
const SD15_VAE: VaeConfig = parseVaeConfig(JSON.parse(readFileSync(join(import.meta.dirname, '../../diffusion/test/fixtures/configs/sd15-vae.json'), 'utf8')));
const dir = mkdtempSync(join(tmpdir(), 'npo-vae-batch-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('SD1.5 at 512 px gets a smaller encoder batch than at 64 px, the largest whose estimate fits the allowed share', () => {
  const budgetMb = 21504; // a 24 GiB machine's default MEMORY_BUDGET_MB
  const small = chooseVaeEncodeBatch(SD15_VAE, 64, budgetMb, 16);
  const full = chooseVaeEncodeBatch(SD15_VAE, 512, budgetMb, 16);
  assert.equal(small.batch, 16);
  assert.ok(full.batch < small.batch, `512 px: ${JSON.stringify(full)}`);
  for (const c of [small, full]) assert.ok(c.estimateMb <= c.allowedMb && c.allowedMb < budgetMb, JSON.stringify(c));
  // the chosen graph's own estimate fits, and the next larger batch's would not
  assert.ok(estimateVaeEncodeMemory(SD15_VAE, full.batch, 512).totalBytes <= full.allowedMb * 2 ** 20);
  const larger = VAE_ENCODE_BATCHES[VAE_ENCODE_BATCHES.indexOf(full.batch as (typeof VAE_ENCODE_BATCHES)[number]) - 1];
  assert.ok(estimateVaeEncodeMemory(SD15_VAE, larger, 512).totalBytes > full.allowedMb * 2 ** 20, `batch ${larger} would fit too`);
  // a smaller budget, a smaller batch; never more images than one call is given; 1 when nothing fits
  assert.ok(chooseVaeEncodeBatch(SD15_VAE, 512, 8192, 16).batch < full.batch);
  assert.equal(chooseVaeEncodeBatch(SD15_VAE, 64, budgetMb, 4).batch, 4);
  assert.equal(chooseVaeEncodeBatch(SD15_VAE, 1024, 1024, 16).batch, 1);
});

test('preparing with encoder batch 1 or 4 gives the same latents (within float32 noise) under the same cache key', async () => {
  const words = ['a red circle', 'a blue square', 'a green triangle'];
  const modelDir = join(dir, 'model');
  writeTinySdxlFolder(modelDir, { words, seed: 11, vaeFrom: join(import.meta.dirname, '../../diffusion/test/fixtures/encoders/public/vae') });
  const rows = await Promise.all(words.map(async (caption, i) => ({
    caption,
    jpg_0: await colourImage('png', 24 + 8 * i, 16, [200, 20 * i, 20], [20, 20, 200]),
    jpg_1: await colourImage('png', 16, 32, [20, 200, 20 * i], [200, 200, 20]),
    label_0: 1,
  })));
  const datasetFile = join(dir, 'pairs.parquet');
  writePickAPicParquet(datasetFile, rows, 3);
  // 2 pairs a batch: calls of 4 images, then 2; the smallest budget leaves the encoder one image a call
  const o = { modelDir, datasetFile, resolution: 16, batchPairs: 2 };
  const config = readVaeConfig(join(modelDir, 'vae'));
  assert.equal(chooseVaeEncodeBatch(config, 16, 256, 4).batch, 1);
  assert.equal(chooseVaeEncodeBatch(config, 16, 1 << 20, 4).batch, 4);
  const one = await encodeDatasetForModel({ ...o, outDir: join(dir, 'batch1'), memoryBudgetMb: 256 });
  const four = await encodeDatasetForModel({ ...o, outDir: join(dir, 'batch4'), memoryBudgetMb: 1 << 20 });
  const [m1, m4] = [readManifest(one.preparedDir), readManifest(four.preparedDir)];
  assert.equal(m1.key, m4.key);
  assert.equal(m1.total_pairs, 3);
  const latents = (d: string, m: typeof m1) => m.shards.flatMap((e) => { const s = readShard(d, e, m); return [...s.chosen, ...s.rejected]; });
  const [a, b] = [latents(one.preparedDir, m1), latents(four.preparedDir, m4)];
  assert.equal(a.length, b.length);
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
  assert.ok(maxDiff < 1e-5, `max |Δ| ${maxDiff}`);
});
