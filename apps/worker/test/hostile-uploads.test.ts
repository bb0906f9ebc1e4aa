import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import yazl from 'yazl';
import tar from 'tar-stream';
import { newId } from '@npo/contracts';
import { listFiles } from '@npo/platform';
import { createTestContext, type TestContext } from '../../../packages/platform/src/testing.ts';
import { startWorker, type RunningWorker } from '../src/queue-consumers.ts';
import { validateDataset } from '../src/dataset-api.ts';
import { scriptedTrainer } from './fixtures/scripted-trainer.ts';
import { tinyModel } from './fixtures/tiny-model-folder.ts';
import { waitFor } from './helpers.ts';

// Uploads whose text Postgres cannot store (a NUL, a lone surrogate) end `invalid` with their report — they used to
// stay `validating` for ever, the report's insert failing at every retry — and archives as `tar -C dir .` writes
// them, gzipped or not, are models like any other.
let ctx: TestContext;
let worker: RunningWorker;
const scratch = mkdtempSync(join(tmpdir(), 'npo-hostile-'));
before(async () => {
  ctx = await createTestContext('hostile');
  worker = await startWorker({ ...ctx, trainer: scriptedTrainer, validateDataset });
});
after(async () => {
  await worker.close();
  await ctx.close();
  rmSync(scratch, { recursive: true, force: true });
});

const settled = <T extends { status: string }>(what: string, read: () => Promise<T>) => waitFor(what, async () => { const r = await read(); return r.status !== 'validating' && r; });

test('a pairs.jsonl image path with a NUL byte ends the dataset invalid, the reason in its report', async () => {
  const png = await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 255, g: 0, b: 0 } } }).png().toBuffer();
  const zip = new yazl.ZipFile();
  zip.addBuffer(png, 'images/red.png');
  zip.addBuffer(Buffer.from(JSON.stringify({ prompt: 'nul', chosen: 'images/red.png\u0000', rejected: 'images/red.png' })), 'pairs.jsonl');
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream) chunks.push(c as Buffer);
  const id = newId('ds');
  await ctx.storage.putBuffer(`datasets/${id}/data.zip`, Buffer.concat(chunks));
  await ctx.db.dataset.create({ data: { id, tenant_id: 'ten_x', name: 'd', format: 'zip', status: 'validating', s3_key: `datasets/${id}/data.zip`, size_bytes: 1n } });
  await ctx.queues.datasets.add('validate', { datasetId: id }, { jobId: id });
  const ds = await settled('dataset validation', () => ctx.db.dataset.findUniqueOrThrow({ where: { id } }));
  assert.equal(ds.status, 'invalid');
  const report = ds.report as { valid: boolean; samples: { reason: string; detail: string }[] };
  assert.equal(report.valid, false);
  assert.equal(report.samples[0].reason, 'missing_field');
  assert.match(report.samples[0].detail, /images\/red\.png\\u0000/);
});

test('a model whose config quotes a NUL and a lone surrogate ends invalid with its errors', async () => {
  const dir = join(scratch, 'nul-model');
  tinyModel(dir, { inChannels: 'x\u0000\ud800' });
  const prefix = `imports/ten_x/${newId('m')}`;
  await ctx.storage.uploadDir(prefix, dir);
  const id = newId('mdl');
  await ctx.db.model.create({ data: { id, tenant_id: 'ten_x', name: 'm', source: 's3', s3_prefix: prefix, status: 'validating' } });
  await ctx.queues.models.add('validate', { modelId: id }, { jobId: id });
  const m = await settled('model validation', () => ctx.db.model.findUniqueOrThrow({ where: { id } }));
  assert.equal(m.status, 'invalid');
  assert.match((m.errors as string[]).join('\n'), /in_channels is x\uFFFD\uFFFD but conv_in\.weight/);
});

/** The folder as `tar -C dir .` archives it: a `./` entry for the root, then `./`-prefixed names. */
async function tarOfFolder(dir: string): Promise<Buffer> {
  const pack = tar.pack();
  pack.entry({ name: './', type: 'directory' });
  const folders = new Set<string>();
  for (const rel of await listFiles(dir)) {
    const parent = rel.split('/').slice(0, -1).join('/');
    if (parent && !folders.has(parent)) { folders.add(parent); pack.entry({ name: `./${parent}/`, type: 'directory' }); }
    pack.entry({ name: `./${rel}` }, readFileSync(join(dir, rel)));
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

for (const gzip of [false, true]) {
  test(`a model uploaded as \`tar -C dir .\`${gzip ? ' | gzip' : ''} is unpacked and validated to ready`, async () => {
    const dir = join(scratch, `dot-root-${gzip}`);
    tinyModel(dir);
    const plain = await tarOfFolder(dir);
    const id = newId('mdl');
    const key = `models/${id}/upload${gzip ? '.tar.gz' : '.tar'}`;
    await ctx.storage.putBuffer(key, gzip ? gzipSync(plain) : plain);
    await ctx.db.model.create({ data: { id, tenant_id: 'ten_x', name: 'm', source: 'upload', s3_prefix: `models/${id}/files`, status: 'validating', info: { upload_key: key } } });
    await ctx.queues.models.add('validate', { modelId: id }, { jobId: id });
    const m = await settled('model validation', () => ctx.db.model.findUniqueOrThrow({ where: { id } }));
    assert.equal(m.status, 'ready', JSON.stringify(m.errors));
    assert.ok((await ctx.storage.list(`models/${id}/files`)).includes(`models/${id}/files/unet/config.json`));
  });
}
