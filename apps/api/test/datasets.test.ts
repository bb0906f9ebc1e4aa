import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { S3Keys } from '@npo/contracts';
import { createTestApi, bearer, multipart, sha256, seedReady, type TestApi } from './helpers.ts';

let t: TestApi;
let base: string;
before(async () => {
  t = await createTestApi('datasets', { MAX_UPLOAD_BYTES: String(4 * 1024 * 1024) });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
});
after(async () => { await t.close(); });

async function upload(name: string, bytes: Buffer, key = t.keyA, fields: Record<string, string> = {}) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', new Blob([new Uint8Array(bytes)]), name);
  return fetch(`${base}/v1/datasets`, { method: 'POST', body: form, headers: bearer(key) });
}

test('an upload streams over HTTP to S3 byte for byte and answers 202 validating', async () => {
  const bytes = randomBytes(3 * 1024 * 1024 + 17); // spans several multipart chunks
  const res = await upload('pairs.parquet', bytes, t.keyA, { name: 'my pairs' });
  assert.equal(res.status, 202);
  const ds = await res.json();
  assert.equal(ds.status, 'validating');
  assert.equal(ds.format, 'parquet');
  assert.equal(ds.name, 'my pairs');
  assert.equal(ds.size_bytes, bytes.length);
  const stored = await t.ctx.storage.getBuffer(`datasets/${ds.id}/data.parquet`);
  assert.equal(sha256(stored), sha256(bytes));
  const queued = await t.ctx.queues.datasets.getJob(ds.id);
  assert.ok(queued, 'a validation job is queued under the dataset id');
  assert.deepEqual(queued.data, { datasetId: ds.id });
  const got = await fetch(`${base}/v1/datasets/${ds.id}`, { headers: bearer(t.keyA) });
  assert.equal((await got.json()).id, ds.id);
});

test('zip and tar uploads are accepted by extension; other files are 415 with a code', async () => {
  assert.equal((await upload('d.zip', randomBytes(100))).status, 202);
  assert.equal((await upload('d.tar', randomBytes(100))).status, 202);
  const bad = await upload('d.csv', randomBytes(100));
  assert.equal(bad.status, 415);
  assert.equal((await bad.json()).error.code, 'unsupported_media_type');
  const badField = await upload('d.bin', randomBytes(100), t.keyA, { format: 'csv' });
  assert.equal(badField.status, 400);
  assert.equal((await badField.json()).error.details.field, 'format');
});

test('an oversize upload is 413 payload_too_large, and leaves no dataset behind', async () => {
  const before = await t.ctx.db.dataset.count();
  const res = await upload('big.parquet', randomBytes(5 * 1024 * 1024));
  assert.equal(res.status, 413);
  assert.equal((await res.json()).error.code, 'payload_too_large');
  assert.equal(await t.ctx.db.dataset.count(), before);
});

test('JSON or a missing file on the upload route is 4xx with a code', async () => {
  const json = await fetch(`${base}/v1/datasets`, { method: 'POST', body: '{"a":1}', headers: { ...bearer(t.keyA), 'content-type': 'application/json' } });
  assert.equal(json.status, 415);
  assert.equal((await json.json()).error.code, 'unsupported_media_type');
  const octet = await fetch(`${base}/v1/datasets`, { method: 'POST', body: 'x', headers: { ...bearer(t.keyA), 'content-type': 'application/octet-stream' } });
  assert.equal(octet.status, 415);
  const form = new FormData();
  form.append('name', 'no file');
  const nofile = await fetch(`${base}/v1/datasets`, { method: 'POST', body: form, headers: bearer(t.keyA) });
  assert.equal(nofile.status, 400);
  assert.equal((await nofile.json()).error.code, 'missing_file');
  const empty = await upload('e.parquet', Buffer.alloc(0));
  assert.equal(empty.status, 400);
  assert.equal((await empty.json()).error.code, 'empty_upload');
});

test('delete removes the row and the objects, its prepared shards too; 409 dataset_in_use while a job uses it', async () => {
  const res = await upload('gone.parquet', randomBytes(1000));
  const ds = await res.json();
  // shards a worker prepared from it for some model (apps/worker/src/prepared-cache.ts keys them under the dataset id)
  const shard = `${S3Keys.prepared(ds.id, 'f'.repeat(64))}/shard-0.safetensors`;
  await t.ctx.storage.putBuffer(shard, randomBytes(100));
  const del = await fetch(`${base}/v1/datasets/${ds.id}`, { method: 'DELETE', headers: bearer(t.keyA) });
  assert.equal(del.status, 204);
  assert.equal((await fetch(`${base}/v1/datasets/${ds.id}`, { headers: bearer(t.keyA) })).status, 404);
  assert.equal(await t.ctx.storage.head(`datasets/${ds.id}/data.parquet`), null);
  assert.equal(await t.ctx.storage.head(shard), null);

  const seeded = await seedReady(t.ctx.db, t.tenantA);
  const job = await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { ...bearer(t.keyA), 'content-type': 'application/json' }, body: JSON.stringify({ model: seeded.model, dataset: seeded.dataset, method: 'npo' }) });
  assert.equal(job.status, 201);
  const busy = await fetch(`${base}/v1/datasets/${seeded.dataset}`, { method: 'DELETE', headers: bearer(t.keyA) });
  assert.equal(busy.status, 409);
  const body = await busy.json();
  assert.equal(body.error.code, 'dataset_in_use');
  assert.equal(body.error.details.job, (await job.json()).id);
});

test('another tenant cannot see, list or delete a dataset (404)', async () => {
  const ds = await (await upload('mine.parquet', randomBytes(10))).json();
  assert.equal((await fetch(`${base}/v1/datasets/${ds.id}`, { headers: bearer(t.keyB) })).status, 404);
  assert.equal((await fetch(`${base}/v1/datasets/${ds.id}`, { method: 'DELETE', headers: bearer(t.keyB) })).status, 404);
  const list = await (await fetch(`${base}/v1/datasets`, { headers: bearer(t.keyB) })).json();
  assert.equal(list.data.length, 0);
});
