import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createApiKey, createRedis, Queues, redisReady, type Redis } from '@npo/platform';
import { createTestContext, type TestContext } from '../../../packages/platform/src/testing.ts';
import { buildApp } from '../src/app.ts';
import { bearer } from './helpers.ts';

// The API reaches the real Redis through a TCP proxy the test can cut, as an outage would.
let ctx: TestContext;
let proxy: Server;
let port: number;
const sockets = new Set<Socket>();
let redis: Redis;
let queues: Queues;
let app: FastifyInstance;
let key: string;

function startProxy(listenPort = 0): Promise<number> {
  const target = new URL(ctx.config.redisUrl);
  proxy = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    for (const s of [client, upstream]) { sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => {}); }
    client.pipe(upstream).pipe(client);
  });
  return new Promise((resolve) => proxy.listen(listenPort, '127.0.0.1', () => resolve((proxy.address() as AddressInfo).port)));
}

function cutProxy(): Promise<void> {
  for (const s of sockets) s.destroy();
  return new Promise((resolve) => proxy.close(() => resolve()));
}

async function until(what: string, ok: () => boolean, ms = 10000) {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

before(async () => {
  ctx = await createTestContext('redis-outage');
  port = await startProxy();
  redis = createRedis(`redis://127.0.0.1:${port}`, 'outage-test', { failFast: true });
  assert.ok(await redisReady(redis, 5000));
  queues = new Queues({ connection: redis, prefix: ctx.config.redisKeyPrefix });
  app = await buildApp({ config: ctx.config, db: ctx.db, storage: ctx.storage, queues, redis, bus: ctx.bus, logger: false });
  await app.ready();
  key = (await createApiKey(ctx.db, 'outage')).key;
});

after(async () => {
  await app.close();
  await queues.close().catch(() => {});
  redis.disconnect();
  await cutProxy().catch(() => {});
  await ctx.close();
});

test('while Redis is down /v1 answers 503 unavailable at once with Retry-After; when it is back, requests succeed again', async () => {
  assert.equal((await app.inject({ method: 'GET', url: '/v1/jobs', headers: bearer(key) })).statusCode, 200);

  await cutProxy();
  await until('the connection to notice', () => redis.status !== 'ready');
  for (const req of [
    { method: 'GET' as const, url: '/v1/jobs' },
    { method: 'POST' as const, url: '/v1/jobs', payload: { model: 'tiny-sd', dataset: 'ds_x', method: 'npo' } },
    { method: 'GET' as const, url: '/v1/datasets' },
  ]) {
    const started = Date.now();
    const res = await app.inject({ ...req, headers: bearer(key) });
    assert.equal(res.statusCode, 503, `${req.method} ${req.url}: ${res.body}`);
    assert.equal(res.json().error.code, 'unavailable');
    assert.equal(res.json().error.details.dependency, 'redis');
    assert.equal(res.headers['retry-after'], '5');
    assert.ok(Date.now() - started < 1000, `${req.method} ${req.url} answered in ${Date.now() - started} ms, not at once`);
  }
  // an invalid key is not counted anywhere either: still 503, never a hang or a 500
  assert.equal((await app.inject({ method: 'GET', url: '/v1/jobs', headers: bearer('npo_wrong') })).statusCode, 503);
  const ready = await app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(ready.statusCode, 503);
  assert.equal(ready.json().checks.redis, 'unavailable');
  assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'liveness does not depend on Redis');

  await startProxy(port);
  await until('ioredis to reconnect', () => redis.status === 'ready', 15000);
  assert.equal((await app.inject({ method: 'GET', url: '/v1/jobs', headers: bearer(key) })).statusCode, 200);
});
