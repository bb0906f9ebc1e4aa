import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiKey, listFiles } from '@npo/platform';
import { writeTinySdxlFolder } from '../../../packages/diffusion/src/testing/tiny-sdxl-folder.ts';
import { buildTar, colourImage, writePickAPicParquet } from '../../../packages/diffusion/test/fixtures/data/make.ts';
import { SafetensorsFile } from '../../../packages/graph/src/safetensors.ts';
import { createTestContext, type TestContext } from '../../../packages/platform/src/testing.ts';
import { waitFor } from './helpers.ts';
import { spawnEntry, startApi } from './fixtures/e2e-stack.ts';

// SDXL end to end: a tiny SDXL-layout folder written from seeded weights (the builder the trainer's SDXL test uses)
// is registered by tar upload through the API, validated by a real worker (all seven parts and their consistency),
// a Pick-a-Pic preference set is prepared with both text encoders, a 2-step NPO job trains through the API, and the
// adapter downloaded from it is read back. The API and the worker run as separate processes over real Postgres,
// Redis and S3, as in e2e-trainer.test.ts.
const ROOT = new URL('../../..', import.meta.url).pathname;
const VAE = join(ROOT, 'packages/diffusion/test/fixtures/encoders/public/vae');
const WORDS = ['a red circle', 'a blue square', 'two green triangles'];
const LONG = 5 * 60 * 1000;

let ctx: TestContext;
let api: ChildProcess;
let worker: ChildProcess;
let base: string;
let key: string;
const scratch = mkdtempSync(join(tmpdir(), 'npo-e2e-sdxl-'));

const headers = () => ({ authorization: `Bearer ${key}` });
const get = async (path: string) => (await fetch(`${base}${path}`, { headers: headers() })).json();

before(async () => {
  ctx = await createTestContext('e2esdxl', { LOCK_DURATION_MS: '5000' });
  key = (await createApiKey(ctx.db, 'e2e-sdxl')).key;
  worker = spawnEntry('apps/worker/src/main.ts', { ...process.env, ...ctx.env });
  ({ api, base } = await startApi({ ...process.env, ...ctx.env }));
});
after(async () => {
  api?.kill('SIGKILL');
  worker?.kill('SIGKILL');
  await ctx?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** The folder as a tar wrapped in one top folder, the way `tar -cf sdxl.tar sdxl/` makes it. */
async function tarOf(dir: string, name: string): Promise<Buffer> {
  const file = join(scratch, `${name}.tar`);
  await buildTar(file, await Promise.all((await listFiles(dir)).map(async (rel) => ({ name: `${name}/${rel}`, data: readFileSync(join(dir, rel)) }))));
  return readFileSync(file);
}

async function upload(path: string, filename: string, bytes: Buffer, fields: Record<string, string> = {}) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', new Blob([new Uint8Array(bytes)]), filename);
  const res = await fetch(`${base}${path}`, { method: 'POST', body: form, headers: headers() });
  const body = await res.json();
  assert.equal(res.status, 202, JSON.stringify(body));
  return body as { id: string };
}

async function registeredModel(dir: string, name: string) {
  const { id } = await upload('/v1/models', `${name}.tar`, await tarOf(dir, name), { name });
  return waitFor(`model ${id} validated`, async () => { const m = await get(`/v1/models/${id}`); return m.status !== 'validating' && m; }, 120000, 200);
}

test('a tiny SDXL folder uploaded as a tar validates to ready (sdxl), prepares a preference set, trains 2 NPO steps and its PEFT adapter downloads', { timeout: LONG }, async () => {
  const dir = join(scratch, 'sdxl');
  writeTinySdxlFolder(dir, { words: WORDS, seed: 11, vaeFrom: VAE });
  const model = await registeredModel(dir, 'sdxl');
  assert.equal(model.status, 'ready', JSON.stringify(model.errors));
  assert.equal(model.info.kind, 'sdxl');
  assert.equal(model.info.pixelSpace, false);
  assert.equal(model.info.vaeScaleFactor, 2);
  assert.deepEqual(model.info.weights, { unet: 'diffusion_pytorch_model.safetensors', vae: 'diffusion_pytorch_model.safetensors', text_encoder: 'model.safetensors', text_encoder_2: 'model.safetensors' });

  // differently sized pairs, so preparation crops and records per-image time ids
  const sizes: [number, number][][] = [[[24, 16], [16, 16]], [[16, 40], [32, 20]], [[50, 16], [16, 16]], [[16, 16], [20, 20]]];
  const rows = await Promise.all(sizes.map(async ([a, b], i) => ({
    caption: WORDS[i % WORDS.length],
    jpg_0: await colourImage('png', a[0], a[1], [200, 20, 20], [20, 20, 200]),
    jpg_1: await colourImage('png', b[0], b[1], [20, 200, 20], [200, 200, 20]),
    label_0: 1,
  })));
  const parquet = join(scratch, 'pairs.parquet');
  writePickAPicParquet(parquet, rows, 2);
  const { id: datasetId } = await upload('/v1/datasets', 'pairs.parquet', readFileSync(parquet));
  const ds = await waitFor('dataset validated', async () => { const d = await get(`/v1/datasets/${datasetId}`); return d.status !== 'validating' && d; }, 60000, 200);
  assert.equal(ds.status, 'ready', JSON.stringify(ds.report));
  assert.equal(ds.report.pairs_kept, 4);

  const body = { model: model.id, dataset: datasetId, method: 'npo', hyperparameters: { steps: 2, batch_pairs: 2, checkpoint_every: 2, learning_rate: 1e-3, lora_rank: 4 } };
  const res = await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { ...headers(), 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const created = await res.json();
  assert.equal(res.status, 201, JSON.stringify(created));
  assert.equal(created.hyperparameters.resolution, 16, 'the default resolution is the UNet sample size × the folder VAE\'s scale factor (8 × 2)');
  const job = await waitFor(`job ${created.id} to end`, async () => { const j = await get(`/v1/jobs/${created.id}`); return ['succeeded', 'failed', 'cancelled'].includes(j.state) && j; }, LONG, 500);
  assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
  assert.equal(job.progress.step, 2);
  const prepared = (await get(`/v1/jobs/${created.id}/events?limit=200`)).data.filter((e: { type: string }) => e.type === 'prepared');
  assert.deepEqual(prepared.map((e: { data: unknown }) => e.data), [{ pairs: 4, source: 'encoded' }]);

  const redirect = await fetch(`${base}/v1/jobs/${created.id}/checkpoints/2/download`, { headers: headers(), redirect: 'manual' });
  assert.equal(redirect.status, 302);
  const file = join(scratch, 'adapter.safetensors');
  writeFileSync(file, Buffer.from(await (await fetch(redirect.headers.get('location')!)).arrayBuffer()));
  const adapter = SafetensorsFile.open(file);
  const names = [...adapter.tensors.keys()];
  // 8 transformer blocks of the SDXL UNet (down 2, mid 2, up 2 × 2) × 2 attentions × to_q/k/v/out.0 × A, B, under PEFT's names
  assert.equal(names.length, 128);
  assert.ok(names.every((n) => /^unet\.(down|mid|up)_block.+\.lora_[AB]\.weight$/.test(n)), names.slice(0, 4).join(','));
  assert.deepEqual(adapter.entry('unet.up_blocks.0.attentions.1.transformer_blocks.1.attn2.to_k.lora_A.weight').shape, [4, 64], 'attn2.to_k reads both encoders\' 64-wide prompt embeddings');
  assert.deepEqual(adapter.entry('unet.mid_block.attentions.0.transformer_blocks.1.attn1.to_out.0.lora_B.weight').shape, [64, 4]);
  assert.equal(adapter.metadata.method, 'npo');
  assert.equal(adapter.metadata.rank, '4');
  assert.equal(adapter.metadata.step, '2');
  // the preview grid decodes SDXL latents at the folder VAE's scale, conditioned on both encoders
  const events = (await get(`/v1/jobs/${created.id}/events?limit=200`)).data;
  const sampleEvents = events.filter((e: { type: string }) => e.type.startsWith('sample'));
  assert.deepEqual(sampleEvents.map((e: { type: string; data: { kind: string } }) => [e.type, e.data.kind]), [['sample', 'preview']], JSON.stringify(sampleEvents));
});

test('an SDXL folder whose UNet cross_attention_dim is not the sum of its encoders\' widths ends invalid, the error naming field and file', { timeout: LONG }, async () => {
  const dir = join(scratch, 'bad-sdxl');
  writeTinySdxlFolder(dir, { words: WORDS, seed: 12, vaeFrom: VAE });
  const config = JSON.parse(readFileSync(join(dir, 'unet/config.json'), 'utf8'));
  writeFileSync(join(dir, 'unet/config.json'), JSON.stringify({ ...config, cross_attention_dim: 96 }));
  const model = await registeredModel(dir, 'bad-sdxl');
  assert.equal(model.status, 'invalid');
  assert.deepEqual(model.errors, ['unet/config.json: cross_attention_dim 96 ≠ text_encoder hidden_size 32 + text_encoder_2 hidden_size 32 = 64']);
  assert.deepEqual(await ctx.storage.list(`models/${model.id}/files`), [], 'nothing of an invalid upload is stored under the model');
});
