import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ShardReader, encodeShards, type SourceRow } from '../src/data/index.ts';
import { colourImage, tempDir } from './fixtures/data/make.ts';

let dir: string;
let cleanup: () => Promise<void>;
let prepared: string;
const PAIRS = 23;

before(async () => {
  ({ dir, cleanup } = await tempDir());
  const rows: SourceRow[] = [];
  for (let i = 0; i < PAIRS; i++)
    rows.push({
      index: i,
      prompt: `p${i}`,
      chosen: await colourImage('png', 4, 4, [i * 10, 0, 5]),
      rejected: await colourImage('png', 4, 4, [0, i * 10, 0]), // never equal to chosen (blue differs)
    });
  prepared = join(dir, 'prepared');
  await encodeShards({
    source: (async function* () { yield* rows; })(),
    outDir: prepared,
    key: 'k',
    resolution: 2,
    shardSize: 4, // 6 shards: 4 4 4 4 4 3
    batchSize: 5,
    // latent = [pair number] so every batch says exactly which pairs it holds
    encodeImages: async (images, n) => Float32Array.from({ length: n }, (_, i) => Math.round((images[i * 12] + 1) * 127.5) / 10),
    encodePrompts: async (prompts) => Float32Array.from(prompts, (p) => Number(p.slice(1))),
    uncondEmbedding: new Float32Array([0]),
    latentShape: [1, 1, 1],
    embedShape: [1, 1],
  });
});
after(() => cleanup());

const ids = (r: ShardReader, batches: number) => Array.from({ length: batches }, () => Array.from(r.nextBatch().embeds));

test('ShardReader: every epoch is a permutation of all pairs, different per epoch and per seed', () => {
  const reader = new ShardReader(prepared, { batchSize: PAIRS, seed: 42, windowShards: 2 });
  assert.deepEqual([reader.manifest.total_pairs, reader.manifest.shards.length], [PAIRS, 6]);
  const epochs = ids(reader, 3);
  for (const e of epochs) assert.deepEqual([...e].sort((a, b) => a - b), [...Array(PAIRS).keys()]);
  assert.notDeepEqual(epochs[0], epochs[1]);
  assert.notDeepEqual(epochs[0], [...Array(PAIRS).keys()], 'shuffled');
  const other = ids(new ShardReader(prepared, { batchSize: PAIRS, seed: 43, windowShards: 2 }), 1)[0];
  assert.notDeepEqual(other, epochs[0]);
  // chosen latents belong to the same pair as the embedding
  const b = new ShardReader(prepared, { batchSize: 7, seed: 42 }).nextBatch();
  assert.deepEqual(Array.from(b.chosen), Array.from(b.embeds));
  assert.deepEqual(Array.from(b.rejected), Array.from(b.embeds, () => 0));
});

test('ShardReader: same seed, same stream; batches run across epochs', () => {
  const a = new ShardReader(prepared, { batchSize: 5, seed: 7 });
  const b = new ShardReader(prepared, { batchSize: 5, seed: 7 });
  const sa = ids(a, 12);
  assert.deepEqual(sa, ids(b, 12));
  assert.deepEqual(a.getState(), b.getState());
  assert.equal(a.getState().epoch, 2); // 60 pairs read of 23 per epoch
});

test('ShardReader: getState/setState resumes exactly, through JSON and a fresh reader', () => {
  const a = new ShardReader(prepared, { batchSize: 5, seed: 99, windowShards: 3 });
  ids(a, 7);
  const saved = JSON.parse(JSON.stringify(a.getState()));
  const next = Array.from({ length: 9 }, () => a.nextBatch());
  const b = new ShardReader(prepared, { batchSize: 5, seed: 1234, windowShards: 3 });
  b.setState(saved);
  for (const expected of next) {
    const got = b.nextBatch();
    assert.deepEqual(got.sources, expected.sources);
    assert.deepEqual(got.chosen, expected.chosen);
    assert.deepEqual(got.embeds, expected.embeds);
  }
  assert.deepEqual(b.getState(), a.getState());
});

