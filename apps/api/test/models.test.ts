import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createTestApi, bearer, multipart, type TestApi } from './helpers.ts';

let t: TestApi;
before(async () => { t = await createTestApi('models'); });
after(async () => { await t.close(); });

test('registering by S3 prefix answers 202 validating and queues a validation under the model id', async () => {
  const prefix = `imports/${t.tenantA}/${randomBytes(4).toString('hex')}/sd`;
  await t.ctx.storage.putBuffer(`${prefix}/unet/config.json`, '{"sample_size": 8}');
  const res = await t.app.inject({ method: 'POST', url: '/v1/models', headers: { ...bearer(t.keyA), 'content-type': 'application/json' }, payload: JSON.stringify({ name: 'mine', s3_prefix: `${prefix}/` }) });
  assert.equal(res.statusCode, 202, res.body);
  const m = res.json();
  assert.equal(m.status, 'validating');
  assert.equal(m.source, 's3');
  assert.equal(m.builtin, false);
  assert.deepEqual((await t.ctx.queues.models.getJob(m.id))?.data, { modelId: m.id });
  assert.equal((await t.ctx.db.model.findUniqueOrThrow({ where: { id: m.id } })).s3_prefix, prefix);
  assert.equal((await t.app.inject({ url: `/v1/models/${m.id}`, headers: bearer(t.keyB) })).statusCode, 404);
});

test('registering by tar upload stores the archive in S3 and queues a validation', async () => {
  const tarBytes = randomBytes(2048);
  const form = multipart('sd.tar', tarBytes, { name: 'uploaded' });
  const res = await t.app.inject({ method: 'POST', url: '/v1/models', headers: { ...bearer(t.keyA), ...form.headers }, payload: form.payload });
  assert.equal(res.statusCode, 202, res.body);
  const m = res.json();
  assert.equal(m.name, 'uploaded');
  assert.equal(m.source, 'upload');
  assert.deepEqual(await t.ctx.storage.getBuffer(`models/${m.id}/upload.tar`), tarBytes);
  const list = (await t.app.inject({ url: '/v1/models', headers: bearer(t.keyA) })).json();
  assert.ok(list.data.some((x: { id: string }) => x.id === m.id));
});

test('.tar.gz and .tgz model uploads are accepted like .tar (the worker reads gzip by its first bytes)', async () => {
  for (const filename of ['sd.tar.gz', 'SD.TGZ']) {
    const bytes = randomBytes(512);
    const form = multipart(filename, bytes);
    const res = await t.app.inject({ method: 'POST', url: '/v1/models', headers: { ...bearer(t.keyA), ...form.headers }, payload: form.payload });
    assert.equal(res.statusCode, 202, res.body);
    const m = res.json();
    assert.equal(m.name, filename.slice(0, 2));
    const row = await t.ctx.db.model.findUniqueOrThrow({ where: { id: m.id } });
    const key = (row.info as { upload_key: string }).upload_key;
    assert.deepEqual(await t.ctx.storage.getBuffer(key), bytes);
  }
});
