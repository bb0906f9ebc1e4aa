import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import yazl from 'yazl';
import tar from 'tar-stream';
import { newId } from '@npo/contracts';
import { checkModelFolder } from '@npo/diffusion';
import { createTestContext, type TestContext } from '../../../packages/platform/src/testing.ts';
import { startWorker, type RunningWorker } from '../src/queue-consumers.ts';
import { validateDataset } from '../src/dataset-api.ts';
import { scriptedTrainer } from './fixtures/scripted-trainer.ts';
import { waitFor } from './helpers.ts';
import { tinyModel } from './fixtures/tiny-model-folder.ts';

// Dataset validation (the real validateDataset from packages/diffusion) and model validation (structural checks)
// run by a real worker over real Postgres, Redis and S3. The trainer's deeper model checks (real weights) are
// exercised on tiny-sd in e2e-trainer.test.ts.
let ctx: TestContext;
let worker: RunningWorker;
const scratch = mkdtempSync(join(tmpdir(), 'npo-validation-'));
before(async () => {
  ctx = await createTestContext('validation');
  // model checks here are the structural ones: the stand-in trainer's validateModelFolder accepts any folder
  worker = await startWorker({ ...ctx, trainer: scriptedTrainer, validateDataset });
});
after(async () => {
  await worker.close();
  await ctx.close();
  rmSync(scratch, { recursive: true, force: true });
});

async function zipOf(entries: Record<string, Buffer>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, data] of Object.entries(entries)) zip.addBuffer(data, name);
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
const png = (rgb: [number, number, number]) => sharp({ create: { width: 16, height: 16, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toBuffer();

async function submitDataset(bytes: Buffer, format: 'zip' | 'parquet') {
  const id = newId('ds');
  const key = `datasets/${id}/data.${format}`;
  await ctx.storage.putBuffer(key, bytes);
  await ctx.db.dataset.create({ data: { id, tenant_id: 'ten_x', name: 'd', format, status: 'validating', s3_key: key, size_bytes: BigInt(bytes.length) } });
  await ctx.queues.datasets.add('validate', { datasetId: id }, { jobId: id });
  return waitFor('validation', async () => { const d = await ctx.db.dataset.findUniqueOrThrow({ where: { id } }); return d.status !== 'validating' && d; });
}

test('a zip with pairs.jsonl is validated to ready with its report', async () => {
  const lines = [
    { prompt: 'red over blue', chosen: 'images/red.png', rejected: 'images/blue.png' },
    { prompt: 'green over red', chosen: 'images/green.png', rejected: 'images/red.png' },
    { prompt: 'missing image', chosen: 'images/nope.png', rejected: 'images/red.png' },
  ].map((l) => JSON.stringify(l)).join('\n');
  const zip = await zipOf({ 'pairs.jsonl': Buffer.from(lines), 'images/red.png': await png([255, 0, 0]), 'images/blue.png': await png([0, 0, 255]), 'images/green.png': await png([0, 255, 0]) });
  const ds = await submitDataset(zip, 'zip');
  assert.equal(ds.status, 'ready', JSON.stringify(ds.report));
  const report = ds.report as { rows_read: number; pairs_kept: number; valid: boolean };
  assert.equal(report.rows_read, 3);
  assert.equal(report.pairs_kept, 2);
  assert.equal(report.valid, true);
});

test('validation extracts into the data volume, not the OS temp dir, and reports over-long prompts', async () => {
  const lines = [
    { prompt: 'red over blue', chosen: 'images/red.png', rejected: 'images/blue.png' },
    { prompt: `a ${'very '.repeat(400)}long prompt`, chosen: 'images/blue.png', rejected: 'images/red.png' },
  ].map((l) => JSON.stringify(l)).join('\n');
  const zip = await zipOf({ 'pairs.jsonl': Buffer.from(lines), 'images/red.png': await png([255, 0, 0]), 'images/blue.png': await png([0, 0, 255]) });
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = join(scratch, 'no-such-temp-dir'); // the worker must not need the OS temp dir
  try {
    const ds = await submitDataset(zip, 'zip');
    assert.equal(ds.status, 'ready', JSON.stringify(ds.report));
    assert.deepEqual((ds.report as { warnings: unknown }).warnings, { prompt_truncated: 0, prompt_over_long: 1, prompt_over_long_rows: [1] });
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
});

test('a report quoting a NUL byte from the upload is stored (made storable), so the dataset does not stay validating', async () => {
  const lines = [
    { prompt: 'red over blue', chosen: 'images/red.png', rejected: 'images/blue.png' },
    { prompt: 'nul path', chosen: 'images/\u0000evil.png', rejected: 'images/red.png' },
  ].map((l) => JSON.stringify(l)).join('\n');
  const zip = await zipOf({ 'pairs.jsonl': Buffer.from(lines), 'images/red.png': await png([255, 0, 0]), 'images/blue.png': await png([0, 0, 255]) });
  const ds = await submitDataset(zip, 'zip');
  assert.equal(ds.status, 'ready', JSON.stringify(ds.report));
  const report = ds.report as { pairs_kept: number; samples: { index: number; detail: string }[] };
  assert.equal(report.pairs_kept, 1);
  assert.equal(report.samples[0].index, 1);
  assert.ok(!report.samples[0].detail.includes('\u0000'));
});

test('a file that is not a dataset is validated to invalid, with the reason in the report', async () => {
  const ds = await submitDataset(Buffer.from('this is not parquet at all'), 'parquet');
  assert.equal(ds.status, 'invalid');
  // the same fields as a finished validation's report, nothing read, and why
  const report = ds.report as { valid: boolean; format: string; rows_read: number; error: string; warnings: Record<string, unknown>; dropped: Record<string, number>; samples: unknown[] };
  assert.equal(report.valid, false);
  assert.equal(report.format, 'parquet');
  assert.equal(report.rows_read, 0);
  assert.ok(report.error.length > 0);
  assert.deepEqual(report.warnings, { prompt_truncated: 0, prompt_over_long: 0, prompt_over_long_rows: [] });
  assert.ok(Object.values(report.dropped).every((n) => n === 0) && Object.keys(report.dropped).length > 0);
  assert.deepEqual(report.samples, []);
});

test('model folder checks: good pixel-space model, channel mismatch, missing parts', () => {
  const good = join(scratch, 'good');
  tinyModel(good);
  assert.deepEqual(checkModelFolder(good), {
    ok: true, errors: [],
    info: { kind: 'sd15', pixelSpace: true, sampleSize: 8, hasVae: false, vaeScaleFactor: null, inChannels: 3, outChannels: 3, weights: { unet: 'diffusion_pytorch_model.safetensors', text_encoder: 'model.safetensors' } },
  });
  const bad = join(scratch, 'bad');
  tinyModel(bad, { inChannels: 4, vae: true });
  const check = checkModelFolder(bad);
  assert.equal(check.ok, false);
  assert.ok(check.errors.some((e) => /in_channels is 4 but conv_in.weight has shape \[4,3,3,3\]/.test(e)), check.errors.join('; '));
  assert.ok(check.errors.some((e) => /vae\/config.json is missing/.test(e)));
  assert.deepEqual(checkModelFolder(join(scratch, 'nothing')).errors.slice(0, 3).map((e) => e.split(' ')[0]), ['unet/', 'text_encoder/', 'tokenizer/']);
});

test('a model registered by S3 prefix is validated by the worker: ready, or invalid with the errors', async () => {
  tinyModel(join(scratch, 's3good'));
  tinyModel(join(scratch, 's3bad'), { inChannels: 5 });
  const results = [];
  for (const name of ['s3good', 's3bad']) {
    const prefix = `uploads/${newId('u')}/${name}`;
    await ctx.storage.uploadDir(prefix, join(scratch, name));
    const id = newId('mdl');
    await ctx.db.model.create({ data: { id, tenant_id: 'ten_x', name, source: 's3', s3_prefix: prefix, status: 'validating' } });
    await ctx.queues.models.add('validate', { modelId: id }, { jobId: id });
    results.push(await waitFor('model validation', async () => { const m = await ctx.db.model.findUniqueOrThrow({ where: { id } }); return m.status !== 'validating' && m; }));
  }
  assert.equal(results[0].status, 'ready', JSON.stringify(results[0].errors));
  assert.equal((results[0].info as { pixelSpace: boolean }).pixelSpace, true);
  assert.equal(results[1].status, 'invalid');
  assert.match((results[1].errors as string[]).join('\n'), /in_channels is 5/);
});

test('an import is pinned: what passed validation is copied into the model\'s own prefix, so rewriting the import changes nothing', async () => {
  tinyModel(join(scratch, 'pinned'));
  const prefix = `imports/ten_x/${newId('m')}`;
  await ctx.storage.uploadDir(prefix, join(scratch, 'pinned'));
  const original = await ctx.storage.getBuffer(`${prefix}/unet/config.json`);
  const id = newId('mdl');
  await ctx.db.model.create({ data: { id, tenant_id: 'ten_x', name: 'pinned', source: 's3', s3_prefix: prefix, status: 'validating' } });
  await ctx.queues.models.add('validate', { modelId: id }, { jobId: id });
  const m = await waitFor('model validation', async () => { const r = await ctx.db.model.findUniqueOrThrow({ where: { id } }); return r.status !== 'validating' && r; });
  assert.equal(m.status, 'ready', JSON.stringify(m.errors));
  assert.equal(m.s3_prefix, `models/${id}/files`, 'jobs read the pinned copy');
  assert.equal((m.info as { import_prefix: string }).import_prefix, prefix);
  const imported = (await ctx.storage.list(prefix)).map((k) => k.slice(prefix.length)).sort();
  assert.deepEqual((await ctx.storage.list(m.s3_prefix)).map((k) => k.slice(m.s3_prefix.length)).sort(), imported);
  // the tenant rewrites its import after validation: the bytes a job trains on stay the ones checked
  await ctx.storage.putBuffer(`${prefix}/unet/config.json`, '{"in_channels": 5}');
  assert.deepEqual(await ctx.storage.getBuffer(`${m.s3_prefix}/unet/config.json`), original);
});

async function uploadTarModel(name: string, extra: { name: string; body: string }[] = []) {
  const dir = join(scratch, name);
  tinyModel(dir);
  const pack = tar.pack();
  const { listFiles } = await import('@npo/platform');
  const { readFileSync } = await import('node:fs');
  for (const rel of await listFiles(dir)) pack.entry({ name: `tiny/${rel}` }, readFileSync(join(dir, rel)));
  for (const e of extra) pack.entry({ name: e.name }, e.body);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  const id = newId('mdl');
  await ctx.storage.putBuffer(`models/${id}/upload.tar`, Buffer.concat(chunks));
  await ctx.db.model.create({ data: { id, tenant_id: 'ten_x', name, source: 'upload', s3_prefix: `models/${id}/files`, status: 'validating', info: { upload_key: `models/${id}/upload.tar` } } });
  await ctx.queues.models.add('validate', { modelId: id }, { jobId: id });
  const m = await waitFor('tar validation', async () => { const r = await ctx.db.model.findUniqueOrThrow({ where: { id } }); return r.status !== 'validating' && r; });
  return { id, model: m, keys: await ctx.storage.list(`models/${id}/files`) };
}

test('an uploaded tar (wrapped in a top folder) is unpacked into the model prefix and validated', async () => {
  const { id, model, keys } = await uploadTarModel('tarred');
  assert.equal(model.status, 'ready', JSON.stringify(model.errors));
  assert.ok(keys.includes(`models/${id}/files/unet/diffusion_pytorch_model.safetensors`), keys.join(','));
});

test('a model tar with an entry escaping its folder is refused as a whole, and nothing is stored', async () => {
  const { model, keys } = await uploadTarModel('escaping', [{ name: '../escape.txt', body: 'no' }]);
  assert.equal(model.status, 'invalid');
  assert.match((model.errors as string[]).join('\n'), /'\.\.\/escape\.txt' contains a '\.\.' segment.*archive_path_traversal/);
  assert.deepEqual(keys, []);
});
