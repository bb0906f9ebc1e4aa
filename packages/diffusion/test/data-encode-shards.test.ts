import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  ShardReader,
  decodeImage,
  identityImageEncoder,
  pixelLatentShape,
  encodeShards,
  readManifest,
  PROGRESS_FILE,
  type PairRow,
  type EncodeShardsOptions,
  type SourceRow,
} from '../src/data/index.ts';
import { colourImage, tempDir } from './fixtures/data/make.ts';

const R = 4;
const EMBED: [number, number] = [3, 2];
let dir: string;
let cleanup: () => Promise<void>;
let rows: SourceRow[];

before(async () => {
  ({ dir, cleanup } = await tempDir());
  rows = [];
  for (let i = 0; i < 11; i++) {
    const chosen = await colourImage('png', 6, 6, [i * 20, 40, 200 - i * 10], [10, i * 20, 30]);
    const rejected = await colourImage('png', 6, 6, [200 - i * 15, i * 10, 90]);
    rows.push({ index: i, prompt: `prompt number ${i}`, chosen, rejected });
    if (i === 3) rows.push({ index: 100, reason: 'tie', detail: 'tie' }); // drops from the reader are skipped
    if (i === 6) rows.push({ index: 101, prompt: 'same', chosen, rejected: chosen }); // identical bytes dropped
  }
});
after(() => cleanup());

async function* source(): AsyncGenerator<SourceRow> {
  yield* rows;
}

/** Depends on the prompt only, so batch boundaries cannot change it. */
async function encodePrompts(prompts: string[]): Promise<Float32Array> {
  const out = new Float32Array(prompts.length * EMBED[0] * EMBED[1]);
  prompts.forEach((p, i) => {
    for (let k = 0; k < 6; k++) out[i * 6 + k] = p.charCodeAt(k % p.length) / 100 + p.length + k;
  });
  return out;
}

function options(outDir: string, extra: Partial<EncodeShardsOptions> = {}): EncodeShardsOptions {
  return {
    source: source(),
    outDir,
    key: 'dataset-x/model-y/4',
    resolution: R,
    shardSize: 3,
    batchSize: 2,
    encodeImages: identityImageEncoder,
    encodePrompts,
    uncondEmbedding: new Float32Array(6).fill(0.5),
    latentShape: pixelLatentShape(R),
    embedShape: EMBED,
    ...extra,
  };
}

function filesOf(d: string): Record<string, Buffer> {
  return Object.fromEntries(readdirSync(d).sort().map((f) => [f, readFileSync(join(d, f))]));
}

let reference: string;

test('prepare: shards, uncond and manifest for a pixel-space model', async () => {
  reference = join(dir, 'reference');
  const progress: number[] = [];
  const result = await encodeShards(options(reference, { onProgress: (p) => progress.push(p.shards_done) }));
  assert.equal(result.cached, false);
  assert.equal(result.dropped, 2);
  const m = readManifest(reference);
  assert.deepEqual(m.shards.map((s) => [s.file, s.pairs]), [
    ['shard-00000.safetensors', 3],
    ['shard-00001.safetensors', 3],
    ['shard-00002.safetensors', 3],
    ['shard-00003.safetensors', 2],
  ]);
  assert.deepEqual([m.total_pairs, m.latent_shape, m.embed_shape, m.uncond_file], [11, [3, R, R], EMBED, 'uncond.safetensors']);
  assert.equal(progress.at(-1), 4);
  assert.ok(!existsSync(join(reference, PROGRESS_FILE)));
  assert.deepEqual(Object.keys(filesOf(reference)), [
    'manifest.json',
    'shard-00000.safetensors',
    'shard-00001.safetensors',
    'shard-00002.safetensors',
    'shard-00003.safetensors',
    'uncond.safetensors',
  ]);
  // A second run finds the complete cache and computes nothing.
  let calls = 0;
  const again = await encodeShards(options(reference, { encodeImages: async (x) => (calls++, x) }));
  assert.deepEqual([again.cached, calls], [true, 0]);
});

test('prepare: aborted after 2 shards, then resumed, gives byte-identical files and skips finished work', async () => {
  const out = join(dir, 'aborted');
  const ctrl = new AbortController();
  await assert.rejects(
    encodeShards(options(out, { signal: ctrl.signal, onProgress: (p) => p.shards_done === 2 && ctrl.abort(new Error('killed')) })),
    /killed/,
  );
  assert.ok(!existsSync(join(out, 'manifest.json')));
  assert.equal(JSON.parse(readFileSync(join(out, PROGRESS_FILE), 'utf8')).shards.length, 2);
  let encoded = 0;
  const resumed = await encodeShards(options(out, { encodeImages: async (x, n) => ((encoded += n / 2), x) }));
  assert.equal(resumed.resumed_shards, 2);
  assert.equal(encoded, 5, 'only the pairs after the 6 already sharded are encoded again');
  assert.deepEqual(filesOf(out), filesOf(reference));
});

test('prepare: an encoder crash mid-way, then resume, gives byte-identical files; a corrupted shard is redone', async () => {
  const out = join(dir, 'crashed');
  let calls = 0;
  await assert.rejects(
    encodeShards(options(out, { encodeImages: async (x) => { if (++calls === 4) throw new Error('GPU fell over'); return x; } })),
    /GPU fell over/,
  );
  // 3 batches of 2 pairs went through before the crash: two complete shards of 3.
  assert.equal(JSON.parse(readFileSync(join(out, PROGRESS_FILE), 'utf8')).shards.length, 2);
  await encodeShards(options(out));
  assert.deepEqual(filesOf(out), filesOf(reference));

  const tampered = join(dir, 'tampered');
  const ctrl = new AbortController();
  await assert.rejects(encodeShards(options(tampered, { signal: ctrl.signal, onProgress: (p) => p.shards_done === 3 && ctrl.abort() })));
  const { writeFileSync } = await import('node:fs');
  const second = join(tampered, 'shard-00001.safetensors');
  const bytes = readFileSync(second);
  bytes[bytes.length - 1] ^= 0xff;
  writeFileSync(second, bytes);
  const result = await encodeShards(options(tampered));
  assert.equal(result.resumed_shards, 1, 'shards from the first damaged one on are recomputed');
  assert.deepEqual(filesOf(tampered), filesOf(reference));
});

test('prepare: identity latents are the decoded images, chosen and rejected in place', async () => {
  const reader = new ShardReader(reference, { batchSize: 1, seed: 1 });
  const L = 3 * R * R;
  const kept = rows.filter((r): r is PairRow => !('reason' in r) && Buffer.compare(r.chosen, r.rejected) !== 0);
  const bySource = new Map<string, PairRow>();
  for (let k = 0; k < reader.manifest.total_pairs; k++) {
    const batch = reader.nextBatch();
    const { shard, row } = batch.sources[0];
    const pair = kept[shard * 3 + row];
    bySource.set(`${shard}/${row}`, pair);
    const c = await decodeImage(pair.chosen, { resolution: R });
    const r = await decodeImage(pair.rejected, { resolution: R });
    assert.ok(c.ok && r.ok);
    assert.deepEqual(batch.chosen, c.pixels);
    assert.deepEqual(batch.rejected, r.pixels);
    assert.deepEqual(batch.embeds, await encodePrompts([pair.prompt]));
    assert.equal(batch.chosen.length, L);
  }
  assert.equal(bySource.size, 11, 'one epoch visits every pair once');
  assert.deepEqual(Array.from(reader.uncond), new Array(6).fill(0.5));
});

test('prepare: a VAE-like encoder with its own latent shape', async () => {
  const out = join(dir, 'vae');
  // 2×2 average pooling into 4 channels (mean, and the three colour means), a stand-in for a real VAE.
  const encodeImages = async (images: Float32Array, n: number) => {
    const h = R / 2;
    const z = new Float32Array(n * 4 * h * h);
    for (let i = 0; i < n; i++)
      for (let c = 0; c < 3; c++)
        for (let y = 0; y < h; y++)
          for (let x = 0; x < h; x++) {
            let s = 0;
            for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]]) s += images[i * 3 * R * R + c * R * R + (2 * y + dy) * R + 2 * x + dx];
            z[i * 4 * h * h + (c + 1) * h * h + y * h + x] = s / 4;
            z[i * 4 * h * h + y * h + x] += s / 12;
          }
    return z;
  };
  const result = await encodeShards(options(out, { encodeImages, latentShape: [4, R / 2, R / 2], shardSize: 5, batchSize: 4 }));
  assert.deepEqual(result.manifest.shards.map((s) => s.pairs), [5, 5, 1]);
  await assert.rejects(
    encodeShards(options(join(dir, 'wrong'), { encodeImages, latentShape: [4, R, R] })),
    (e: unknown) => (e as { code?: string }).code === 'prepare_mismatch',
  );
});
