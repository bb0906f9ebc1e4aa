import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Storage, createApiKey, type Config } from '@npo/platform';
import { newId } from '@npo/contracts';
import { buildApp } from '../src/app.ts';
import { createTestApi, bearer, seedReady, type TestApi } from './helpers.ts';

// What anyone can do without a key: guess keys (limited per address), reach /v1 routes through an encoded path
// (auth and rate limit hold for what the router matched), read /readyz (no backend error text) and /metrics
// (operator only).
let t: TestApi;
const extra: FastifyInstance[] = [];
before(async () => { t = await createTestApi('abuse', { AUTH_FAILURES_MAX: '50' }); });
after(async () => {
  for (const app of extra) await app.close();
  await t.close();
});

async function appWith(config: Partial<Config>, storage = t.ctx.storage) {
  const app = await buildApp({ config: { ...t.ctx.config, ...config }, db: t.ctx.db, storage, queues: t.ctx.queues, redis: t.ctx.redis, bus: t.ctx.bus, logger: false });
  await app.ready();
  extra.push(app);
  return app;
}

test('300 random keys from one address: past the limit they get 429 without a lookup; other addresses and known keys are unaffected', async () => {
  assert.equal((await t.app.inject({ url: '/v1/jobs', headers: bearer(t.keyA) })).statusCode, 200); // now a known key
  const codes: Record<number, number> = {};
  for (let i = 0; i < 300; i++) {
    const res = await t.app.inject({ url: '/v1/jobs', headers: bearer(`npo_${randomBytes(32).toString('base64url')}`), remoteAddress: '203.0.113.7' });
    codes[res.statusCode] = (codes[res.statusCode] ?? 0) + 1;
    if (res.statusCode === 429) assert.equal(res.json().error.code, 'rate_limited');
  }
  assert.deepEqual(codes, { 401: 50, 429: 250 });
  const other = await t.app.inject({ url: '/v1/jobs', headers: bearer('npo_nope'), remoteAddress: '198.51.100.9' });
  assert.equal(other.statusCode, 401);
  // a key seen valid within the auth cache's lifetime (10 s) passes without a lookup; refresh it so a slow loop above
  // cannot age it out
  assert.equal((await t.app.inject({ url: '/v1/jobs', headers: bearer(t.keyA) })).statusCode, 200);
  const known = await t.app.inject({ url: '/v1/jobs', headers: bearer(t.keyA), remoteAddress: '203.0.113.7' });
  assert.equal(known.statusCode, 200, known.body);
});

test('the per-key rate limit holds for a percent-encoded /v1 path as for the plain one', async () => {
  const app = await appWith({ rateLimitMax: 5 });
  for (const url of ['/%761/jobs', '/v%31/jobs', '/v1/jobs']) {
    const { key } = await createApiKey(t.ctx.db, `limited-${randomBytes(4).toString('hex')}`);
    const statuses = [];
    for (let i = 0; i < 8; i++) statuses.push((await app.inject({ url, headers: bearer(key) })).statusCode);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429], url);
  }
});

test('/readyz says which backend is down, never why', async () => {
  const ok = await t.app.inject({ url: '/readyz' });
  assert.equal(ok.statusCode, 200);
  assert.deepEqual(ok.json(), { ok: true, checks: { postgres: 'ok', redis: 'ok', s3: 'ok' } });
  const down = new Storage({ ...t.ctx.config.s3, endpoint: 'http://127.0.0.1:9' });
  const app = await appWith({}, down);
  const res = await app.inject({ url: '/readyz' });
  down.destroy();
  assert.equal(res.statusCode, 503);
  assert.deepEqual(res.json(), { ok: false, checks: { postgres: 'ok', redis: 'ok', s3: 'unavailable' } });
});

test('/metrics: loopback only without METRICS_TOKEN, the bearer token with one; no tenant in it', async () => {
  await seedReady(t.ctx.db, t.tenantA);
  const local = await t.app.inject({ url: '/metrics' });
  assert.equal(local.statusCode, 200);
  assert.match(local.body, /npo_jobs/);
  assert.ok(!local.body.includes(t.tenantA) && !local.body.includes('tenant'), 'no per-tenant series');
  const remote = await t.app.inject({ url: '/metrics', remoteAddress: '203.0.113.7' });
  assert.equal(remote.statusCode, 401);
  assert.equal(remote.json().error.code, 'metrics_unauthorized');
  const app = await appWith({ metricsToken: 'scrape-secret' });
  for (const headers of [{}, { authorization: 'Bearer wrong' }, bearer(t.keyA)]) {
    for (const remoteAddress of ['127.0.0.1', '203.0.113.7']) {
      const res = await app.inject({ url: '/metrics', headers, remoteAddress });
      assert.equal(res.statusCode, 401, `${JSON.stringify(headers)} from ${remoteAddress}`);
      assert.equal(res.json().error.code, 'metrics_unauthorized');
    }
  }
  assert.equal((await app.inject({ url: '/metrics', headers: { authorization: 'Bearer scrape-secret' }, remoteAddress: '203.0.113.7' })).statusCode, 200);
});

test('a list page stops at 1 MiB of JSON: 100 jobs with 15 KiB of metadata each come in several pages, each once', async () => {
  const { model, dataset } = await seedReady(t.ctx.db, t.tenantB);
  const metadata = { note: 'm'.repeat(15 * 1024) };
  await t.ctx.db.job.createMany({ data: Array.from({ length: 100 }, () => ({ id: newId('job'), tenant_id: t.tenantB, model_id: model, dataset_id: dataset, method: 'npo', hyperparameters: {}, metadata, state: 'queued', total_steps: 10 })) });
  const seen = new Set<string>();
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res: { statusCode: number; rawPayload: Buffer; json: () => unknown } = await t.app.inject({ url: `/v1/jobs?limit=200${cursor ? `&cursor=${cursor}` : ''}`, headers: bearer(t.keyB) });
    assert.equal(res.statusCode, 200);
    assert.ok(res.rawPayload.length <= 1024 * 1024 + 64 * 1024, `page of ${res.rawPayload.length} bytes`);
    const body = res.json() as { data: { id: string }[]; next_cursor: string | null };
    assert.ok(body.data.length > 0);
    for (const j of body.data) { assert.ok(!seen.has(j.id), 'no job twice'); seen.add(j.id); }
    cursor = body.next_cursor;
    pages++;
  } while (cursor);
  assert.equal(seen.size, 100);
  assert.ok(pages >= 2);
});
