import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestApi, bearer, seedReady, multipart, type TestApi } from './helpers.ts';

// Every malformed request is a 4xx with a stable code (and the field, for schema errors) — never a 5xx.
let t: TestApi;
let ok: { model: string; dataset: string };
before(async () => {
  t = await createTestApi('badinput', { MAX_UPLOAD_BYTES: '1024' });
  ok = await seedReady(t.ctx.db, t.tenantA);
});
after(async () => { await t.close(); });

const postRaw = (url: string, payload: string | Buffer, contentType = 'application/json') =>
  t.app.inject({ method: 'POST', url, headers: { ...bearer(t.keyA), 'content-type': contentType }, payload });
const postJob = (body: unknown) => postRaw('/v1/jobs', JSON.stringify(body));

function expectError(res: { statusCode: number; json: () => any; body: string }, status: number, code: string, field?: string) {
  assert.equal(res.statusCode, status, res.body);
  const body = res.json();
  assert.equal(body.error.code, code, res.body);
  assert.equal(typeof body.error.message, 'string');
  assert.equal(typeof body.error.details, 'object');
  if (field) assert.equal(body.error.details.field, field, res.body);
}

test('malformed JSON, empty bodies and wrong content types', async () => {
  expectError(await postRaw('/v1/jobs', '{"model": '), 400, 'malformed_json');
  expectError(await postRaw('/v1/jobs', ''), 400, 'malformed_json');
  expectError(await postRaw('/v1/jobs', 'model=x', 'application/x-www-form-urlencoded'), 415, 'unsupported_media_type');
  expectError(await postRaw('/v1/jobs', Buffer.from([1, 2, 3]), 'application/octet-stream'), 415, 'unsupported_media_type');
  expectError(await postRaw('/v1/jobs', 'just text', 'text/plain'), 400, 'validation_error');
  expectError(await postRaw('/v1/jobs', '[1,2]'), 400, 'validation_error');
  expectError(await postRaw('/v1/jobs', JSON.stringify({ a: 'x'.repeat(2 * 1024 * 1024) })), 413, 'payload_too_large');
});

test('missing, unknown and wrongly typed fields name the field', async () => {
  expectError(await postJob({ dataset: ok.dataset, method: 'npo' }), 400, 'validation_error', 'body.model');
  expectError(await postJob({ model: ok.model, dataset: ok.dataset, method: 'ppo' }), 400, 'validation_error', 'body.method');
  expectError(await postJob({ model: ok.model, dataset: ok.dataset, method: 'npo', extra: 1 }), 400, 'validation_error', 'body.extra');
  expectError(await postJob({ model: 5, dataset: ok.dataset, method: 'npo' }), 400, 'validation_error', 'body.model');
  expectError(await postJob({ model: ok.model, dataset: ok.dataset, method: 'npo', hyperparameters: { steps: '10' } }), 400, 'validation_error', 'body.hyperparameters.steps');
  expectError(await postJob({ model: ok.model, dataset: ok.dataset, method: 'npo', hyperparameters: { stepz: 10 } }), 400, 'validation_error', 'body.hyperparameters.stepz');
  expectError(await postJob({ model: ok.model, dataset: ok.dataset, method: 'npo', hyperparameters: [] }), 400, 'validation_error', 'body.hyperparameters');
});

test('out-of-range, NaN and Infinity hyperparameters are rejected by field', async () => {
  const cases: [string, unknown][] = [
    ['steps', 0], ['steps', 100001], ['steps', 1.5], ['batch_pairs', 0], ['gradient_accumulation_steps', 0], ['gradient_accumulation_steps', 1025], ['gradient_accumulation_steps', 2.5], ['learning_rate', 0], ['learning_rate', -1e-5], ['learning_rate', 2],
    ['beta', 0], ['lora_rank', 0], ['lora_rank', 1000], ['warmup_steps', -1], ['lr_schedule', 'linear'], ['max_grad_norm', 0],
    ['resolution', 30], ['resolution', 8192], ['checkpoint_every', 0], ['seed', -1], ['steps', 'NaN'], ['learning_rate', 'Infinity'],
  ];
  for (const [name, value] of cases) {
    expectError(await postJob({ model: ok.model, dataset: ok.dataset, method: 'npo', hyperparameters: { [name]: value } }), 400, 'validation_error', `body.hyperparameters.${name}`);
  }
  // JSON has no NaN; a bare NaN is malformed JSON, and 1e999 parses to Infinity, which is not a number to AJV
  expectError(await postRaw('/v1/jobs', `{"model":"${ok.model}","dataset":"${ok.dataset}","method":"npo","hyperparameters":{"beta":NaN}}`), 400, 'malformed_json');
  expectError(await postRaw('/v1/jobs', `{"model":"${ok.model}","dataset":"${ok.dataset}","method":"npo","hyperparameters":{"beta":1e999}}`), 400, 'validation_error', 'body.hyperparameters.beta');
  expectError(await postJob({ model: ok.model, dataset: ok.dataset, method: 'npo', hyperparameters: { steps: 5, warmup_steps: 10 } }), 400, 'validation_error', 'body.hyperparameters.warmup_steps');
  // the seeded model is pixel-space with sample_size 32: no other resolution fits it
  expectError(await postJob({ model: ok.model, dataset: ok.dataset, method: 'npo', hyperparameters: { resolution: 64 } }), 400, 'validation_error', 'body.hyperparameters.resolution');
});

test('unknown or unusable model and dataset', async () => {
  expectError(await postJob({ model: 'mdl_nope', dataset: ok.dataset, method: 'npo' }), 404, 'not_found');
  expectError(await postJob({ model: ok.model, dataset: 'ds_nope', method: 'npo' }), 404, 'not_found');
  const invalid = await seedReady(t.ctx.db, t.tenantA, { datasetStatus: 'invalid' });
  expectError(await postJob({ model: invalid.model, dataset: invalid.dataset, method: 'npo' }), 409, 'dataset_invalid');
  const validating = await seedReady(t.ctx.db, t.tenantA, { datasetStatus: 'validating' });
  expectError(await postJob({ model: validating.model, dataset: validating.dataset, method: 'npo' }), 409, 'dataset_not_ready');
  await t.ctx.db.model.update({ where: { id: invalid.model }, data: { status: 'invalid' } });
  expectError(await postJob({ model: invalid.model, dataset: ok.dataset, method: 'npo' }), 409, 'model_invalid');
});

test('bad ids, queries and routes', async () => {
  expectError(await t.app.inject({ url: '/v1/jobs/job_nope', headers: bearer(t.keyA) }), 404, 'not_found');
  expectError(await t.app.inject({ url: '/v1/jobs?limit=0', headers: bearer(t.keyA) }), 400, 'validation_error', 'querystring.limit');
  expectError(await t.app.inject({ url: '/v1/jobs?limit=abc', headers: bearer(t.keyA) }), 400, 'validation_error', 'querystring.limit');
  expectError(await t.app.inject({ url: '/v1/jobs?state=sleeping', headers: bearer(t.keyA) }), 400, 'validation_error', 'querystring.state');
  expectError(await t.app.inject({ url: '/v1/jobs/x/checkpoints/abc/download', headers: bearer(t.keyA) }), 400, 'validation_error', 'params.step');
  expectError(await t.app.inject({ url: '/v1/jobs/x/events?cursor=zzz', headers: bearer(t.keyA) }), 404, 'not_found');
  expectError(await t.app.inject({ url: '/v1/nothing', headers: bearer(t.keyA) }), 404, 'route_not_found');
  expectError(await t.app.inject({ method: 'POST', url: '/v1/jobs', headers: { ...bearer(t.keyA), 'content-type': 'application/json', 'idempotency-key': 'x'.repeat(300) }, payload: JSON.stringify({ model: ok.model, dataset: ok.dataset, method: 'npo' }) }), 400, 'validation_error');
});

test('model registration: bad bodies, reserved or empty prefixes, oversize and wrong uploads', async () => {
  expectError(await postRaw('/v1/models', JSON.stringify({ name: 'x' })), 400, 'validation_error', 'body.s3_prefix');
  expectError(await postRaw('/v1/models', JSON.stringify({ name: 'x', s3_prefix: 'datasets/ds_1' })), 400, 'invalid_s3_prefix', 'body.s3_prefix');
  expectError(await postRaw('/v1/models', JSON.stringify({ name: 'x', s3_prefix: '../etc' })), 400, 'invalid_s3_prefix');
  expectError(await postRaw('/v1/models', JSON.stringify({ name: 'x', s3_prefix: 'nowhere/model' })), 400, 'model_not_found_in_s3');
  const zip = multipart('model.zip', Buffer.alloc(10));
  expectError(await t.app.inject({ method: 'POST', url: '/v1/models', headers: { ...bearer(t.keyA), ...zip.headers }, payload: zip.payload }), 415, 'unsupported_media_type');
  const big = multipart('model.tar', Buffer.alloc(4096));
  expectError(await t.app.inject({ method: 'POST', url: '/v1/models', headers: { ...bearer(t.keyA), ...big.headers }, payload: big.payload }), 413, 'payload_too_large');
  const bigDs = multipart('d.parquet', Buffer.alloc(4096));
  expectError(await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { ...bearer(t.keyA), ...bigDs.headers }, payload: bigDs.payload }), 413, 'payload_too_large');
  expectError(await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { ...bearer(t.keyA), 'content-type': 'multipart/form-data' }, payload: 'garbage' }), 400, 'malformed_multipart');
});
