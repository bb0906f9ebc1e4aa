import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { revokeApiKey } from '@npo/platform';
import { createTestApi, bearer, type TestApi } from './helpers.ts';

let t: TestApi;
before(async () => { t = await createTestApi('auth'); });
after(async () => { await t.close(); });

test('a request without a key is 401 missing_api_key', async () => {
  const res = await t.app.inject({ method: 'GET', url: '/v1/jobs' });
  assert.equal(res.statusCode, 401);
  assert.equal(res.json().error.code, 'missing_api_key');
});

test('a malformed Authorization header or an unknown key is 401 invalid_api_key', async () => {
  for (const authorization of ['Basic abc', 'Bearer', `Bearer ${t.keyA}x`, 'Bearer npo_nope']) {
    const res = await t.app.inject({ method: 'GET', url: '/v1/jobs', headers: { authorization } });
    assert.equal(res.statusCode, 401, authorization);
    assert.equal(res.json().error.code, 'invalid_api_key');
    assert.equal(typeof res.json().error.message, 'string');
  }
});

test('a valid key works and a revoked key stops working at once', async () => {
  const ok = await t.app.inject({ method: 'GET', url: '/v1/jobs', headers: bearer(t.keyA) });
  assert.equal(ok.statusCode, 200);
  assert.deepEqual(ok.json(), { data: [], next_cursor: null });
  const announce = { bus: t.ctx.bus, redisKeyPrefix: t.ctx.config.redisKeyPrefix };
  assert.equal(await revokeApiKey(t.ctx.db, t.keyIdA, announce), true);
  assert.equal(await revokeApiKey(t.ctx.db, t.keyIdA, announce), false, 'revoking twice reports nothing to revoke');
  await new Promise((r) => setTimeout(r, 100)); // the announcement crosses Redis
  const res = await t.app.inject({ method: 'GET', url: '/v1/jobs', headers: bearer(t.keyA) });
  assert.equal(res.statusCode, 401);
  assert.equal(res.json().error.code, 'invalid_api_key');
});

test('keys are stored hashed, never in clear', async () => {
  const rows = await t.ctx.db.apiKey.findMany();
  assert.equal(rows.length, 2);
  for (const r of rows) {
    assert.match(r.key_hash, /^[0-9a-f]{64}$/);
    assert.notEqual(r.key_hash, t.keyB);
  }
});

test('health, readiness, docs and metrics need no key', async () => {
  assert.equal((await t.app.inject({ url: '/healthz' })).statusCode, 200);
  const ready = await t.app.inject({ url: '/readyz' });
  assert.equal(ready.statusCode, 200, ready.body);
  assert.deepEqual(ready.json().checks, { postgres: 'ok', redis: 'ok', s3: 'ok' });
  const docs = await t.app.inject({ url: '/docs' });
  assert.ok(docs.statusCode < 400);
  const spec = (await t.app.inject({ url: '/openapi.json' })).json();
  assert.equal(spec.openapi, '3.1.0');
  for (const p of ['/v1/jobs', '/v1/jobs/{id}', '/v1/datasets', '/v1/models', '/v1/jobs/{id}/checkpoints/{step}/download']) assert.ok(spec.paths[p], p);
  const metrics = await t.app.inject({ url: '/metrics' });
  assert.equal(metrics.statusCode, 200);
  assert.match(metrics.body, /npo_queue_depth\{queue="train"\} 0/);
  assert.match(metrics.body, /npo_jobs\{state="queued"\} 0/);
  assert.match(metrics.body, /npo_train_step_seconds_bucket/);
});

test('rate limits are per key', async () => {
  const rl = await createTestApi('ratelimit', { RATE_LIMIT_MAX: '3' });
  try {
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await rl.app.inject({ url: '/v1/jobs', headers: bearer(rl.keyA) })).statusCode);
    assert.deepEqual(codes, [200, 200, 200, 429]);
    const limited = await rl.app.inject({ url: '/v1/jobs', headers: bearer(rl.keyA) });
    assert.equal(limited.json().error.code, 'rate_limited');
    assert.equal((await rl.app.inject({ url: '/v1/jobs', headers: bearer(rl.keyB) })).statusCode, 200, 'another key has its own budget');
  } finally {
    await rl.close();
  }
});
