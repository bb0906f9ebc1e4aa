import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRetryable } from '@npo/contracts';
import { readManifest, readShard, readUncondPooled, writeTinySdxlFolder } from '@npo/diffusion';
import { PROMPTS, Rng, renderShape, sampleScene } from '@npo/shapes';
import { writePairsZip, type PreferencePair } from '../../shapes/src/lab/preferences.ts';
import { colourImage, writePickAPicParquet } from '../../diffusion/test/fixtures/data/make.ts';
import { encodeDatasetForModel } from '../src/encode-dataset.ts';
import { encodeDatasetInThread } from '../src/prepare-thread.ts';
import { loadModelFolder } from '../src/model-folder.ts';
import { preparedShapes } from '../src/prepared-shapes.ts';

// Preparation (tokenizing, text and VAE encoding) runs in a worker thread for the worker service, so its main thread
// keeps renewing queue locks and hearing cancels: the thread must give exactly the main-thread result, report
// progress, and stop on abort.
const MODEL = join(import.meta.dirname, '../../../models/tiny-sd');
const dir = mkdtempSync(join(tmpdir(), 'npo-prepare-thread-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function dataset(): Promise<string> {
  const rng = new Rng(3, 0);
  const pairs: PreferencePair[] = PROMPTS.map((_, p) => {
    const scene = sampleScene(rng, p);
    return { prompt: p, images: [renderShape(scene), renderShape({ ...scene, colour: PROMPTS[(p + 5) % PROMPTS.length].colour })], rewards: [1, 0] };
  });
  const file = join(dir, 'pairs.zip');
  await writePairsZip(file, pairs, 'reward');
  return file;
}

test('prepared in a worker thread: the same shards as on the main thread, with progress', async () => {
  const datasetFile = await dataset();
  const progress: number[] = [];
  const threaded = await encodeDatasetInThread({ modelDir: MODEL, datasetFile, resolution: 16, outDir: join(dir, 'threaded'), batchPairs: 4, onProgress: (p) => progress.push(p.pairs_done) });
  const direct = await encodeDatasetForModel({ modelDir: MODEL, datasetFile, resolution: 16, outDir: join(dir, 'direct'), batchPairs: 4 });
  assert.equal(threaded.pairs, PROMPTS.length);
  assert.equal(threaded.pairs, direct.pairs);
  const manifest = (d: string) => JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8'));
  assert.deepEqual(manifest(threaded.preparedDir).shards, manifest(direct.preparedDir).shards);
  // the memory check sizes a job with these shapes before anything is prepared (memory-check.ts)
  const { latent_shape, embed_shape } = manifest(direct.preparedDir);
  assert.deepEqual(preparedShapes(loadModelFolder(MODEL), 16), { latentShape: latent_shape, embedShape: embed_shape });
  assert.ok(progress.length > 0 && progress.at(-1) === PROMPTS.length, JSON.stringify(progress));
});

test('an abort stops the thread and rejects with its reason; errors keep their code', async () => {
  const datasetFile = await dataset();
  const controller = new AbortController();
  const run = encodeDatasetInThread({ modelDir: MODEL, datasetFile, resolution: 16, outDir: join(dir, 'aborted'), signal: controller.signal });
  controller.abort(new Error('cancelled by the test'));
  await assert.rejects(run, /cancelled by the test/);
  // mid-encoding too: the thread stops between batches (terminating it inside session.run would abort the process)
  const midway = new AbortController();
  const batches: number[] = [];
  const stopped = encodeDatasetInThread({
    modelDir: MODEL, datasetFile, resolution: 16, outDir: join(dir, 'aborted-midway'), batchPairs: 2, signal: midway.signal,
    onProgress: (p) => {
      batches.push(p.pairs_done);
      midway.abort(new Error('cancelled mid-encoding'));
    },
  });
  await assert.rejects(stopped, /cancelled mid-encoding/);
  assert.ok(batches.length >= 1 && batches.at(-1)! < PROMPTS.length, `stopped before the last batch: ${batches}`);
  await assert.rejects(
    encodeDatasetInThread({ modelDir: MODEL, datasetFile, resolution: 32, outDir: join(dir, 'wrong') }),
    // bad input stays bad input across the thread: the worker fails the job at once instead of retrying it
    (e: Error & { code?: string }) => /pixel-space model works at 16/.test(e.message) && e.name === 'ModelFolderError' && e.code === 'invalid_model' && !isRetryable(e),
  );
});

test('an SDXL folder prepared in the thread: both encoders, pooled embeddings and time ids, as on the main thread', async () => {
  const sdxl = join(dir, 'sdxl');
  const words = ['a red circle', 'a blue square'];
  writeTinySdxlFolder(join(sdxl, 'model'), { words, seed: 11, vaeFrom: join(import.meta.dirname, '../../diffusion/test/fixtures/encoders/public/vae') });
  const rows = await Promise.all(words.map(async (caption, i) => ({
    caption,
    jpg_0: await colourImage('png', 24 + 8 * i, 16, [200, 20, 20], [20, 20, 200]),
    jpg_1: await colourImage('png', 16, 32, [20, 200, 20], [200, 200, 20]),
    label_0: 1,
  })));
  const datasetFile = join(sdxl, 'pairs.parquet');
  writePickAPicParquet(datasetFile, rows, 2);
  const o = { modelDir: join(sdxl, 'model'), datasetFile, resolution: 16, batchPairs: 2 };
  const threaded = await encodeDatasetInThread({ ...o, outDir: join(sdxl, 'threaded') });
  const direct = await encodeDatasetForModel({ ...o, outDir: join(sdxl, 'direct') });
  assert.equal(threaded.pairs, 2);
  const read = (d: string) => {
    const m = readManifest(d);
    return { m, shards: m.shards.map((e) => readShard(d, e, m)), uncondPooled: readUncondPooled(d, m) };
  };
  const [t, d] = [read(threaded.preparedDir), read(direct.preparedDir)];
  assert.equal(t.m.pooled_width, 32);
  assert.deepEqual(preparedShapes(loadModelFolder(o.modelDir), 16), { latentShape: t.m.latent_shape, embedShape: t.m.embed_shape });
  assert.deepEqual(t.m.shards, d.m.shards);
  assert.deepEqual(t.shards.map((s) => [...s.added!.chosenTimeIds]), d.shards.map((s) => [...s.added!.chosenTimeIds]));
  assert.deepEqual(t.shards.map((s) => [...s.added!.pooled]), d.shards.map((s) => [...s.added!.pooled]));
  assert.ok(t.shards.every((s) => s.added!.pooled.some((v) => v !== 0)));
  assert.deepEqual([...t.uncondPooled!], [...d.uncondPooled!]);
});
