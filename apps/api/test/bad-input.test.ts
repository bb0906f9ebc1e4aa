import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { InjectOptions } from 'fastify';
import { newId } from '@npo/contracts';
import { createTestApi, bearer, seedReady, multipart, type TestApi } from './helpers.ts';

// The bad-input corpus: every malformed, hostile or unusable request is a 4xx with a stable code (and the field,
// for field errors) — never a 5xx, never a hang. One row per request; `node scripts/run-tests.mjs bad-input`.
let t: TestApi;
let ok: { model: string; dataset: string };
let job: string; // a job of tenant A
let jobB: string; // a job of tenant B
before(async () => {
  // invalid keys are limited per client address; this corpus sends many on purpose, so the limit is raised here
  t = await createTestApi('badinput', { MAX_UPLOAD_BYTES: '1024', AUTH_FAILURES_MAX: '100000' });
  ok = await seedReady(t.ctx.db, t.tenantA);
  job = await seedJob(t.tenantA, ok);
  jobB = await seedJob(t.tenantB, await seedReady(t.ctx.db, t.tenantB));
});
after(async () => { await t.close(); });

async function seedJob(tenantId: string, on: { model: string; dataset: string }) {
  const id = newId('job');
  await t.ctx.db.job.create({ data: { id, tenant_id: tenantId, model_id: on.model, dataset_id: on.dataset, method: 'npo', hyperparameters: {}, state: 'queued', total_steps: 10 } });
  return id;
}

interface Case { name: string; req: () => InjectOptions; status: number; code: string; field?: string }
const A = () => bearer(t.keyA);
const get = (url: string, headers: () => Record<string, string> = A) => () => ({ method: 'GET' as const, url, headers: headers() });
const del = (url: string) => () => ({ method: 'DELETE' as const, url, headers: A() });
const raw = (url: string, payload: string | Buffer, contentType = 'application/json', extra: Record<string, string> = {}) => () =>
  ({ method: 'POST' as const, url, payload, headers: { ...A(), 'content-type': contentType, ...extra } });
const post = (url: string, body: unknown, extra: Record<string, string> = {}) => raw(url, JSON.stringify(body), 'application/json', extra);
const upload = (url: string, filename: string, content: Buffer, fields: Record<string, string> = {}, field = 'file') => () => {
  const form = multipart(filename, content, fields, field);
  return { method: 'POST' as const, url, payload: form.payload, headers: { ...A(), ...form.headers } };
};
const jobBody = (extra: Record<string, unknown> = {}) => ({ model: ok.model, dataset: ok.dataset, method: 'npo', ...extra });
const withHp = (hp: unknown) => post('/v1/jobs', jobBody({ hyperparameters: hp }));
const withMeta = (metadata: unknown) => post('/v1/jobs', jobBody({ metadata }));
const nested = (depth: number, leaf: unknown, wrap: (v: unknown) => unknown) => { let v = leaf; for (let i = 0; i < depth; i++) v = wrap(v); return v; };
/** A job body whose metadata.a nests `depth` levels, written as text (JSON.stringify itself overflows the stack at such depths). */
const deepMeta = (depth: number, open: string, close: string) => () =>
  raw('/v1/jobs', `{"model":"${ok.model}","dataset":"${ok.dataset}","method":"npo","metadata":{"a":${open.repeat(depth)}1${close.repeat(depth)}}}`)();
const LONE_HIGH = '\ud800';
const LONE_LOW = '\udc00';

function cases(): Case[] {
  const c: Case[] = [];
  const add = (name: string, req: Case['req'], status: number, code: string, field?: string) => c.push({ name, req, status, code, field });

  // bodies and content types
  add('truncated JSON', raw('/v1/jobs', '{"model": '), 400, 'malformed_json');
  add('empty JSON body', raw('/v1/jobs', ''), 400, 'malformed_json');
  add('form-urlencoded body', raw('/v1/jobs', 'model=x', 'application/x-www-form-urlencoded'), 415, 'unsupported_media_type');
  add('octet-stream body', raw('/v1/jobs', Buffer.from([1, 2, 3]), 'application/octet-stream'), 415, 'unsupported_media_type');
  add('text/plain body', raw('/v1/jobs', 'just text', 'text/plain'), 400, 'validation_error');
  add('JSON array body', raw('/v1/jobs', '[1,2]'), 400, 'validation_error');
  add('JSON null body', raw('/v1/jobs', 'null'), 400, 'validation_error');
  add('JSON string body', raw('/v1/jobs', '"x"'), 400, 'validation_error');
  add('2 MiB JSON body', raw('/v1/jobs', JSON.stringify({ a: 'x'.repeat(2 * 1024 * 1024) })), 413, 'payload_too_large');
  add('__proto__ key', raw('/v1/jobs', `{"model":"${'m'}","__proto__":{"x":1}}`), 400, 'malformed_json');
  add('constructor.prototype key', raw('/v1/jobs', '{"constructor":{"prototype":{"x":1}}}'), 400, 'malformed_json');
  add('bare NaN', () => raw('/v1/jobs', `{"model":"${ok.model}","dataset":"${ok.dataset}","method":"npo","hyperparameters":{"beta":NaN}}`)(), 400, 'malformed_json');
  add('1e999 (Infinity)', () => raw('/v1/jobs', `{"model":"${ok.model}","dataset":"${ok.dataset}","method":"npo","hyperparameters":{"beta":1e999}}`)(), 400, 'validation_error', 'body.hyperparameters.beta');

  // missing, unknown and wrongly typed fields
  add('missing model', () => post('/v1/jobs', { dataset: ok.dataset, method: 'npo' })(), 400, 'validation_error', 'body.model');
  add('missing dataset', () => post('/v1/jobs', { model: ok.model, method: 'npo' })(), 400, 'validation_error', 'body.dataset');
  add('missing method', () => post('/v1/jobs', { model: ok.model, dataset: ok.dataset })(), 400, 'validation_error', 'body.method');
  add('unknown method', () => post('/v1/jobs', jobBody({ method: 'ppo' }))(), 400, 'validation_error', 'body.method');
  add('unknown field', () => post('/v1/jobs', jobBody({ extra: 1 }))(), 400, 'validation_error', 'body.extra');
  add('model as a number', () => post('/v1/jobs', jobBody({ model: 5 }))(), 400, 'validation_error', 'body.model');
  add('hyperparameters as an array', () => withHp([])(), 400, 'validation_error', 'body.hyperparameters');
  add('unknown hyperparameter', () => withHp({ stepz: 10 })(), 400, 'validation_error', 'body.hyperparameters.stepz');

  // every hyperparameter out of range or of the wrong type
  const badHp: [string, unknown][] = [
    ['steps', 0], ['steps', 100001], ['steps', 1.5], ['steps', '10'], ['steps', null], ['steps', 'NaN'],
    ['batch_pairs', 0], ['batch_pairs', 1025], ['batch_pairs', 2.5], ['batch_pairs', true],
    ['gradient_accumulation_steps', 0], ['gradient_accumulation_steps', 1025], ['gradient_accumulation_steps', 2.5],
    ['learning_rate', 0], ['learning_rate', -1e-5], ['learning_rate', 2], ['learning_rate', '1e-4'], ['learning_rate', 'Infinity'],
    ['beta', 0], ['beta', -1], ['beta', 1e7], ['beta', 'x'],
    ['lora_rank', 0], ['lora_rank', 257], ['lora_rank', 1.5],
    ['lora_alpha', 0], ['lora_alpha', 5000], ['lora_alpha', -1],
    ['warmup_steps', -1], ['warmup_steps', 100001], ['warmup_steps', 0.5],
    ['lr_schedule', 'linear'], ['lr_schedule', 1], ['lr_schedule', ''],
    ['max_grad_norm', 0], ['max_grad_norm', -1], ['max_grad_norm', 1e7],
    ['resolution', 30], ['resolution', 8192], ['resolution', 0], ['resolution', 7],
    ['checkpoint_every', 0], ['checkpoint_every', 100001], ['checkpoint_every', 1.5],
    ['seed', -1], ['seed', 2147483648], ['seed', 1.5], ['seed', 'x'],
    ['precision', 'fp8'], ['precision', 'FP16'], ['precision', 16],
  ];
  for (const [name, value] of badHp) add(`hyperparameters.${name} = ${JSON.stringify(value)}`, () => withHp({ [name]: value })(), 400, 'validation_error', `body.hyperparameters.${name}`);
  add('warmup_steps past steps', () => withHp({ steps: 5, warmup_steps: 10 })(), 400, 'validation_error', 'body.hyperparameters.warmup_steps');
  for (const targets of ['attn+mlp', [], 'all', 5, ['to_q', 'to_q'], [5]]) add(`lora_targets ${JSON.stringify(targets)}`, () => withHp({ lora_targets: targets })(), 400, 'validation_error', 'body.hyperparameters.lora_targets');
  for (const targets of [['attn1'], ['to_q', 'ff.net.3'], ['to q'], ['down_blocks.0.resnets.0.conv1']]) add(`lora_targets ${JSON.stringify(targets)} (no UNet Linear layer)`, () => withHp({ lora_targets: targets })(), 400, 'unknown_target_modules', 'body.hyperparameters.lora_targets');
  add('resolution a pixel-space model cannot use', () => withHp({ resolution: 64 })(), 400, 'validation_error', 'body.hyperparameters.resolution');

  // metadata: stored as jsonb and returned with every read, so NUL, lone surrogates, depth and size are bounded
  add('NUL in a metadata value', () => withMeta({ note: 'a\u0000b' })(), 400, 'invalid_metadata', 'body.metadata.note');
  add('NUL in a metadata key', () => withMeta({ 'a\u0000': 1 })(), 400, 'invalid_metadata', 'body.metadata');
  add('lone high surrogate in a metadata value', () => withMeta({ note: `x${LONE_HIGH}` })(), 400, 'invalid_metadata', 'body.metadata.note');
  add('lone low surrogate in a metadata value', () => withMeta({ note: `${LONE_LOW}y` })(), 400, 'invalid_metadata', 'body.metadata.note');
  add('lone surrogate in a metadata key', () => withMeta({ [LONE_HIGH]: 1 })(), 400, 'invalid_metadata', 'body.metadata');
  add('NUL deep inside metadata', () => withMeta({ a: { b: ['ok', 'n\u0000'] } })(), 400, 'invalid_metadata', 'body.metadata.a.b.1');
  add('metadata objects nested 5,000 deep', deepMeta(5000, '{"a":', '}'), 400, 'invalid_metadata');
  add('metadata arrays nested 5,000 deep', deepMeta(5000, '[', ']'), 400, 'invalid_metadata');
  add('metadata arrays nested 400,000 deep (under the 1 MiB body limit)', deepMeta(400000, '[', ']'), 400, 'invalid_metadata');
  add('metadata nested 9 deep', () => withMeta({ a: nested(8, 1, (v) => ({ a: v })) })(), 400, 'invalid_metadata');
  add('metadata over 16 KiB', () => withMeta({ a: 'x'.repeat(17000) })(), 400, 'metadata_too_large', 'body.metadata');
  add('metadata over 16 KiB in multibyte text', () => withMeta({ a: 'é'.repeat(9000) })(), 400, 'metadata_too_large', 'body.metadata');
  add('metadata with 51 keys', () => withMeta(Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i])))(), 400, 'validation_error', 'body.metadata');
  add('metadata as an array', () => withMeta([1, 2])(), 400, 'validation_error', 'body.metadata');
  add('metadata as a string', () => withMeta('x')(), 400, 'validation_error', 'body.metadata');

  // model and dataset references
  add('NUL in model', () => post('/v1/jobs', jobBody({ model: 'mdl\u0000' }))(), 400, 'validation_error', 'body.model');
  add('NUL in dataset', () => post('/v1/jobs', jobBody({ dataset: '\u0000' }))(), 400, 'validation_error', 'body.dataset');
  add('lone surrogate in model', () => post('/v1/jobs', jobBody({ model: `m${LONE_HIGH}` }))(), 400, 'validation_error', 'body.model');
  add('space in model', () => post('/v1/jobs', jobBody({ model: 'tiny sd' }))(), 400, 'validation_error', 'body.model');
  add('model id of 101 characters', () => post('/v1/jobs', jobBody({ model: 'm'.repeat(101) }))(), 400, 'validation_error', 'body.model');
  add('empty model', () => post('/v1/jobs', jobBody({ model: '' }))(), 400, 'validation_error', 'body.model');
  add('unknown model', () => post('/v1/jobs', jobBody({ model: 'mdl_nope' }))(), 404, 'not_found');
  add('unknown dataset', () => post('/v1/jobs', jobBody({ dataset: 'ds_nope' }))(), 404, 'not_found');

  // Idempotency-Key
  add('Idempotency-Key of 300 characters', () => post('/v1/jobs', jobBody(), { 'idempotency-key': 'x'.repeat(300) })(), 400, 'validation_error', 'headers.idempotency-key');
  add('Idempotency-Key with a space', () => post('/v1/jobs', jobBody(), { 'idempotency-key': 'run 1' })(), 400, 'validation_error', 'headers.idempotency-key');
  add('Idempotency-Key with a Latin-1 byte', () => post('/v1/jobs', jobBody(), { 'idempotency-key': 'r\u00e9' })(), 400, 'validation_error', 'headers.idempotency-key');

  // ids in paths: every :id route, with a NUL, a space, an over-long id and a lone surrogate's UTF-8 bytes
  const idRoutes: [string, (id: string) => () => InjectOptions][] = [
    ['GET job', (id) => get(`/v1/jobs/${id}`)],
    ['cancel job', (id) => raw(`/v1/jobs/${id}/cancel`, '{}')],
    ['job events', (id) => get(`/v1/jobs/${id}/events`)],
    ['job event stream', (id) => get(`/v1/jobs/${id}/events`, () => ({ ...A(), accept: 'text/event-stream' }))],
    ['job metrics', (id) => get(`/v1/jobs/${id}/metrics`)],
    ['job checkpoints', (id) => get(`/v1/jobs/${id}/checkpoints`)],
    ['job samples', (id) => get(`/v1/jobs/${id}/samples`)],
    ['checkpoint download', (id) => get(`/v1/jobs/${id}/checkpoints/1/download`)],
    ['GET dataset', (id) => get(`/v1/datasets/${id}`)],
    ['DELETE dataset', (id) => del(`/v1/datasets/${id}`)],
    ['GET model', (id) => get(`/v1/models/${id}`)],
  ];
  for (const [route, req] of idRoutes) {
    add(`${route}: NUL id`, req('%00'), 400, 'validation_error', 'params.id');
    add(`${route}: id with a space`, req('a%20b'), 400, 'validation_error', 'params.id');
    add(`${route}: 101-character id`, req('x'.repeat(101)), 414, 'param_too_long');
    add(`${route}: id with a right-to-left override`, req('ab%E2%80%AEcd'), 400, 'validation_error', 'params.id');
  }
  add('GET job: undecodable percent-encoding', get('/v1/jobs/%E0%A4%A'), 400, 'bad_url');
  add('GET dataset: undecodable percent-encoding', get('/v1/datasets/%ZZ'), 400, 'bad_url');
  add('GET job: unknown id', get('/v1/jobs/job_nope'), 404, 'not_found');
  add('GET job: another tenant\'s job', () => get(`/v1/jobs/${jobB}`)(), 404, 'not_found');
  add('GET dataset: unknown id', get('/v1/datasets/ds_nope'), 404, 'not_found');
  add('GET model: unknown id', get('/v1/models/mdl_nope'), 404, 'not_found');
  add('DELETE dataset: unknown id', del('/v1/datasets/ds_nope'), 404, 'not_found');
  add('cancel: another tenant\'s job', () => raw(`/v1/jobs/${jobB}/cancel`, '{}')(), 404, 'not_found');

  // checkpoint steps: the int4 column bounds them
  for (const step of ['3000000000', '2147483648', '99999999999999999999', '-1', '1.5', 'abc', '1e3x']) {
    add(`checkpoint step ${step}`, () => get(`/v1/jobs/${job}/checkpoints/${step}/download`)(), 400, 'validation_error', 'params.step');
  }
  add('checkpoint step 2^31 − 1 that does not exist', () => get(`/v1/jobs/${job}/checkpoints/2147483647/download`)(), 404, 'not_found');
  add('checkpoint ?stream=maybe', () => get(`/v1/jobs/${job}/checkpoints/1/download?stream=maybe`)(), 400, 'validation_error', 'querystring.stream');
  add('checkpoint ?format=ckpt', () => get(`/v1/jobs/${job}/checkpoints/1/download?format=ckpt`)(), 400, 'validation_error', 'querystring.format');

  // list queries
  add('jobs ?model=NUL', get('/v1/jobs?model=%00'), 400, 'validation_error', 'querystring.model');
  add('jobs ?dataset=NUL', get('/v1/jobs?dataset=%00'), 400, 'validation_error', 'querystring.dataset');
  add('jobs ?model with a lone surrogate\'s bytes', get('/v1/jobs?model=%ED%A0%80'), 400, 'validation_error', 'querystring.model');
  add('jobs ?limit=0', get('/v1/jobs?limit=0'), 400, 'validation_error', 'querystring.limit');
  add('jobs ?limit=201', get('/v1/jobs?limit=201'), 400, 'validation_error', 'querystring.limit');
  add('jobs ?limit=abc', get('/v1/jobs?limit=abc'), 400, 'validation_error', 'querystring.limit');
  add('jobs ?limit=1.5', get('/v1/jobs?limit=1.5'), 400, 'validation_error', 'querystring.limit');
  add('jobs ?state=sleeping', get('/v1/jobs?state=sleeping'), 400, 'validation_error', 'querystring.state');
  add('jobs ?cursor=zzz', get('/v1/jobs?cursor=zzz'), 400, 'invalid_cursor', 'querystring.cursor');
  add('jobs ?cursor=NUL', get('/v1/jobs?cursor=%00'), 400, 'invalid_cursor', 'querystring.cursor');
  add('jobs ?cursor of 201 characters', get(`/v1/jobs?cursor=${'a'.repeat(201)}`), 400, 'validation_error', 'querystring.cursor');
  add('datasets ?status=gone', get('/v1/datasets?status=gone'), 400, 'validation_error', 'querystring.status');
  add('datasets ?limit=0', get('/v1/datasets?limit=0'), 400, 'validation_error', 'querystring.limit');
  add('datasets ?cursor=zzz', get('/v1/datasets?cursor=zzz'), 400, 'invalid_cursor', 'querystring.cursor');
  add('models ?limit=1000', get('/v1/models?limit=1000'), 400, 'validation_error', 'querystring.limit');
  add('models ?cursor=zzz', get('/v1/models?cursor=zzz'), 400, 'invalid_cursor', 'querystring.cursor');
  add('events ?cursor=zzz', () => get(`/v1/jobs/${job}/events?cursor=zzz`)(), 400, 'invalid_cursor', 'querystring.cursor');
  add('events ?cursor of a resource id', () => get(`/v1/jobs/${job}/events?cursor=${Buffer.from('job_1').toString('base64url')}`)(), 400, 'invalid_cursor', 'querystring.cursor');
  add('event stream: Last-Event-ID past int8', () => get(`/v1/jobs/${job}/events`, () => ({ ...A(), accept: 'text/event-stream', 'last-event-id': '99999999999999999999' }))(), 400, 'validation_error', 'headers.last-event-id');
  add('event stream: Last-Event-ID not a number', () => get(`/v1/jobs/${job}/events`, () => ({ ...A(), accept: 'text/event-stream', 'last-event-id': 'abc' }))(), 400, 'validation_error', 'headers.last-event-id');

  // model registration from S3: the tenant's own imports/<tenant id>/ prefix only; the answer never says what exists elsewhere
  const reg = (body: unknown) => post('/v1/models', body);
  const own = () => `imports/${t.tenantA}`;
  add('model: no s3_prefix', reg({ name: 'x' }), 400, 'validation_error', 'body.s3_prefix');
  add('model: no name', () => reg({ s3_prefix: `${own()}/m` })(), 400, 'validation_error', 'body.name');
  add('model: unknown field', () => reg({ name: 'x', s3_prefix: `${own()}/m`, public: true })(), 400, 'validation_error', 'body.public');
  add('model: NUL in name', () => reg({ name: 'a\u0000', s3_prefix: `${own()}/m` })(), 400, 'validation_error', 'body.name');
  add('model: lone surrogate in name', () => reg({ name: LONE_HIGH, s3_prefix: `${own()}/m` })(), 400, 'validation_error', 'body.name');
  add('model: 201-character name', () => reg({ name: 'n'.repeat(201), s3_prefix: `${own()}/m` })(), 400, 'validation_error', 'body.name');
  add('model: NUL in s3_prefix', () => reg({ name: 'x', s3_prefix: `${own()}/a\u0000` })(), 400, 'validation_error', 'body.s3_prefix');
  add('model: 1,000 multibyte characters in s3_prefix', reg({ name: 'x', s3_prefix: 'é'.repeat(1000) }), 400, 'validation_error', 'body.s3_prefix');
  add('model: 1,000 multibyte characters under the own prefix', () => reg({ name: 'x', s3_prefix: `${own()}/${'模'.repeat(1000)}` })(), 400, 'validation_error', 'body.s3_prefix');
  add('model: s3_prefix of 600 ASCII characters', () => reg({ name: 'x', s3_prefix: `${own()}/${'a'.repeat(600)}` })(), 400, 'validation_error', 'body.s3_prefix');
  add('model: s3_prefix with a space', () => reg({ name: 'x', s3_prefix: `${own()}/my model` })(), 400, 'validation_error', 'body.s3_prefix');
  add('model: s3_prefix with a backslash', () => reg({ name: 'x', s3_prefix: `${own()}\\m` })(), 400, 'validation_error', 'body.s3_prefix');
  for (const prefix of ['datasets/ds_1', 'jobs/job_1', 'models/mdl_1', 'prepared/abc', 'artifacts/x', 'uploads/x/sd', 'nowhere/model', 'imports', 'imports/', '/']) {
    add(`model: s3_prefix ${prefix} outside the tenant's imports`, reg({ name: 'x', s3_prefix: prefix }), 400, 'invalid_s3_prefix', 'body.s3_prefix');
  }
  add('model: another tenant\'s imports', () => reg({ name: 'x', s3_prefix: `imports/${t.tenantB}/m` })(), 400, 'invalid_s3_prefix', 'body.s3_prefix');
  add('model: own imports root itself', () => reg({ name: 'x', s3_prefix: own() })(), 400, 'invalid_s3_prefix', 'body.s3_prefix');
  add('model: .. out of the own imports', () => reg({ name: 'x', s3_prefix: `${own()}/../${t.tenantB}/m` })(), 400, 'invalid_s3_prefix', 'body.s3_prefix');
  add('model: . segment in the own imports', () => reg({ name: 'x', s3_prefix: `${own()}/./m` })(), 400, 'invalid_s3_prefix', 'body.s3_prefix');
  add('model: empty segment in the own imports', () => reg({ name: 'x', s3_prefix: `${own()}//m` })(), 400, 'invalid_s3_prefix', 'body.s3_prefix');
  add('model: own imports prefix holding no model', () => reg({ name: 'x', s3_prefix: `${own()}/nothing-here` })(), 400, 'model_not_found_in_s3', 'body.s3_prefix');

  // uploads
  add('model upload as .zip', upload('/v1/models', 'model.zip', Buffer.alloc(10)), 415, 'unsupported_media_type');
  add('model upload with no extension', upload('/v1/models', 'model', Buffer.alloc(10)), 415, 'unsupported_media_type');
  add('model upload over the size limit', upload('/v1/models', 'model.tar', Buffer.alloc(4096)), 413, 'payload_too_large');
  add('model upload: NUL in the name field', upload('/v1/models', 'model.tar', Buffer.alloc(10), { name: 'a\u0000b' }), 400, 'validation_error', 'name');
  add('model upload: empty file', upload('/v1/models', 'model.tar', Buffer.alloc(0)), 400, 'empty_upload', 'file');
  add('dataset upload over the size limit', upload('/v1/datasets', 'd.parquet', Buffer.alloc(4096)), 413, 'payload_too_large');
  add('dataset upload: garbage multipart', () => ({ method: 'POST', url: '/v1/datasets', headers: { ...A(), 'content-type': 'multipart/form-data' }, payload: 'garbage' }), 400, 'malformed_multipart');
  add('dataset upload: JSON instead of multipart', raw('/v1/datasets', '{}'), 415, 'unsupported_media_type');
  add('dataset upload: fields but no file part', () => {
    const boundary = 'xYz';
    return { method: 'POST', url: '/v1/datasets', headers: { ...A(), 'content-type': `multipart/form-data; boundary=${boundary}` }, payload: `--${boundary}\r\ncontent-disposition: form-data; name="name"\r\n\r\nd\r\n--${boundary}--\r\n` };
  }, 400, 'missing_file', 'file');
  add('dataset upload: empty file', upload('/v1/datasets', 'd.parquet', Buffer.alloc(0)), 400, 'empty_upload', 'file');
  add('dataset upload: unknown extension', upload('/v1/datasets', 'd.csv', Buffer.alloc(10)), 415, 'unsupported_media_type');
  add('dataset upload: format field csv', upload('/v1/datasets', 'd.bin', Buffer.alloc(10), { format: 'csv' }), 400, 'validation_error', 'format');
  add('dataset upload: NUL in the name field', upload('/v1/datasets', 'd.parquet', Buffer.alloc(10), { name: 'a\u0000b' }), 400, 'validation_error', 'name');
  add('dataset upload: NUL in the format field', upload('/v1/datasets', 'd.parquet', Buffer.alloc(10), { format: 'zip\u0000' }), 400, 'validation_error', 'format');
  add('dataset upload: NUL in the filename', upload('/v1/datasets', 'd\u0000.parquet', Buffer.alloc(10)), 400, 'validation_error', 'file');
  add('dataset upload: 201-character name field', upload('/v1/datasets', 'd.parquet', Buffer.alloc(10), { name: 'n'.repeat(201) }), 400, 'validation_error', 'name');

  // keys: every /v1 route refuses a request without one, or with one that is not a key
  const routes: [string, string][] = [
    ['POST', '/v1/datasets'], ['GET', '/v1/datasets'], ['GET', '/v1/datasets/ds_1'], ['DELETE', '/v1/datasets/ds_1'],
    ['POST', '/v1/models'], ['GET', '/v1/models'], ['GET', '/v1/models/tiny-sd'],
    ['POST', '/v1/jobs'], ['GET', '/v1/jobs'], ['GET', '/v1/jobs/job_1'], ['POST', '/v1/jobs/job_1/cancel'], ['GET', '/v1/jobs/job_1/events'],
    ['GET', '/v1/jobs/job_1/metrics'], ['GET', '/v1/jobs/job_1/checkpoints'], ['GET', '/v1/jobs/job_1/checkpoints/1/download'], ['GET', '/v1/jobs/job_1/samples'],
  ];
  for (const [method, url] of routes) {
    add(`${method} ${url} without a key`, () => ({ method: method as 'GET', url }), 401, 'missing_api_key');
    add(`${method} ${url} with an unknown key`, () => ({ method: method as 'GET', url, headers: { authorization: 'Bearer npo_nope' } }), 401, 'invalid_api_key');
  }
  add('Basic credentials', () => ({ method: 'GET', url: '/v1/jobs', headers: { authorization: 'Basic abc' } }), 401, 'invalid_api_key');
  add('Bearer without a key', () => ({ method: 'GET', url: '/v1/jobs', headers: { authorization: 'Bearer' } }), 401, 'invalid_api_key');
  add('a key with a character appended', () => ({ method: 'GET', url: '/v1/jobs', headers: { authorization: `Bearer ${t.keyA}x` } }), 401, 'invalid_api_key');
  // the router decodes %76 to v: auth must hold for what it routes, not for the URL's text
  add('percent-encoded /v1 prefix without a key', () => ({ method: 'GET', url: '/%761/jobs' }), 401, 'missing_api_key');
  add('percent-encoded /v1 segment without a key', () => ({ method: 'GET', url: '/v%31/datasets' }), 401, 'missing_api_key');
  add('percent-encoded job route with an unknown key', () => ({ method: 'GET', url: '/%76%31/jobs/job_1', headers: { authorization: 'Bearer npo_nope' } }), 401, 'invalid_api_key');

  // routes that do not exist
  add('unknown route', get('/v1/nothing'), 404, 'route_not_found');
  add('PUT on a collection', () => ({ method: 'PUT', url: '/v1/jobs', headers: A(), payload: {} }), 404, 'route_not_found');
  add('PATCH on a job', () => ({ method: 'PATCH', url: `/v1/jobs/${job}`, headers: A(), payload: {} }), 404, 'route_not_found');
  return c;
}

test('the bad-input corpus has at least 150 requests', () => {
  assert.ok(cases().length >= 150, `${cases().length} cases`);
});

test('every bad request is a 4xx with a stable code and a message', async (tt) => {
  for (const c of cases()) {
    await tt.test(c.name, async () => {
      const res = await t.app.inject(c.req());
      assert.equal(res.statusCode, c.status, `${c.name}: ${res.body.slice(0, 500)}`);
      const body = res.json();
      assert.equal(body.error.code, c.code, res.body.slice(0, 500));
      assert.equal(typeof body.error.message, 'string');
      assert.ok(body.error.message.length > 0);
      assert.equal(typeof body.error.details, 'object');
      if (c.field) assert.equal(body.error.details.field, c.field, res.body.slice(0, 500));
    });
  }
});

test('LoRA target names no UNet Linear layer can have are listed in the error', async () => {
  const res = await t.app.inject(withHp({ lora_targets: ['to_q', 'attn1', 'ff.net.3', 'to_v', 'down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_k', 'to q'] })());
  assert.equal(res.statusCode, 400, res.body);
  assert.equal(res.json().error.code, 'unknown_target_modules');
  assert.deepEqual(res.json().error.details.unknown, ['attn1', 'ff.net.3', 'to q']);
  assert.match(res.json().error.message, /"attn1", "ff\.net\.3", "to q" are not names of a UNet Linear layer/);
});

test('a refused upload leaves nothing in S3 and no row', async () => {
  const before = await t.ctx.storage.list('datasets/');
  const beforeModels = await t.ctx.storage.list('models/');
  for (const fields of [{ name: 'a\u0000b' }, { format: 'tar\u0000' }, { name: 'n'.repeat(201) }] as Record<string, string>[]) {
    const form = multipart('d.parquet', Buffer.from('PAR1 not really'), fields);
    const res = await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { ...A(), ...form.headers }, payload: form.payload });
    assert.equal(res.statusCode, 400, res.body);
  }
  const form = multipart('m.tar', Buffer.alloc(10), { name: 'a\u0000' });
  assert.equal((await t.app.inject({ method: 'POST', url: '/v1/models', headers: { ...A(), ...form.headers }, payload: form.payload })).statusCode, 400);
  assert.deepEqual(await t.ctx.storage.list('datasets/'), before);
  assert.deepEqual(await t.ctx.storage.list('models/'), beforeModels);
  assert.equal(await t.ctx.db.dataset.count({ where: { tenant_id: t.tenantA, name: { not: 'seed' } } }), 0);
  assert.equal(await t.ctx.db.model.count({ where: { tenant_id: t.tenantA, source: 'upload' } }), 0);
});
