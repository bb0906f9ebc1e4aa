import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request, type IncomingMessage, type ClientRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServerResponse } from 'node:http';
import Fastify from 'fastify';
import { newId } from '@npo/contracts';
import { createApiKey, revokeApiKey } from '@npo/platform';
import { streamJobEvents } from '../src/services/sse.ts';
import { createTestApi, seedReady, type TestApi } from './helpers.ts';

// Event streams hold sockets, subscriptions and buffers: a key may hold only so many, a revoked key's streams end,
// and a client that does not read makes the replay wait instead of queueing the job's whole history in memory.
let t: TestApi;
let port: number;
let job: string;
before(async () => {
  t = await createTestApi('sselimits', { SSE_STREAMS_PER_KEY: '3' });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  port = (t.app.server.address() as AddressInfo).port;
  const seeded = await seedReady(t.ctx.db, t.tenantA);
  job = newId('job');
  await t.ctx.db.job.create({ data: { id: job, tenant_id: t.tenantA, model_id: seeded.model, dataset_id: seeded.dataset, method: 'npo', hyperparameters: {}, state: 'training', total_steps: 10 } });
});
after(async () => {
  t.app.server.closeAllConnections();
  await t.close();
});

function openStream(key: string, path = `/v1/jobs/${job}/events`): Promise<{ res: IncomingMessage; req: ClientRequest; body: () => string; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { accept: 'text/event-stream', authorization: `Bearer ${key}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      const ended = new Promise<void>((r) => { res.on('end', () => r()); res.on('close', () => r()); });
      resolve({ res, req, body: () => text, ended });
    });
    req.on('error', reject);
    req.end();
  });
}

test('a key holds at most SSE_STREAMS_PER_KEY streams: the next is 429; closing one frees its place', async () => {
  const { key } = await createApiKey(t.ctx.db, 'tenant-a');
  const open = [];
  for (let i = 0; i < 3; i++) {
    const s = await openStream(key);
    assert.equal(s.res.statusCode, 200);
    open.push(s);
  }
  const refused = await openStream(key);
  assert.equal(refused.res.statusCode, 429);
  await refused.ended;
  assert.equal(JSON.parse(refused.body()).error.code, 'rate_limited');
  const otherKey = await openStream(t.keyA); // the cap is per key
  assert.equal(otherKey.res.statusCode, 200);
  otherKey.req.destroy();
  open[0].req.destroy();
  await open[0].ended;
  let again;
  for (;;) { // the server sees the hang-up shortly after the client
    again = await openStream(key);
    if (again.res.statusCode === 200) break;
    await again.ended;
  }
  open.push(again);
  for (const s of open.slice(1)) s.req.destroy();
});

test('revoking a key ends its open streams', { timeout: 30000 }, async () => {
  const { key, keyId } = await createApiKey(t.ctx.db, 'tenant-a');
  const streams = [await openStream(key), await openStream(key)];
  for (const s of streams) assert.equal(s.res.statusCode, 200);
  await revokeApiKey(t.ctx.db, keyId, { bus: t.ctx.bus, redisKeyPrefix: t.ctx.config.redisKeyPrefix });
  await Promise.all(streams.map((s) => s.ended)); // would hang if they stayed open
  const after = await openStream(key);
  assert.equal(after.res.statusCode, 401);
});

test('replay to a client that does not read waits for drain: the buffer stays near one page, and every event arrives', { timeout: 120000 }, async () => {
  const total = 20000;
  const pad = 'x'.repeat(1000);
  const replayJob = newId('job');
  const seeded = await seedReady(t.ctx.db, t.tenantA);
  await t.ctx.db.job.create({ data: { id: replayJob, tenant_id: t.tenantA, model_id: seeded.model, dataset_id: seeded.dataset, method: 'npo', hyperparameters: {}, state: 'training', total_steps: total } });
  for (let i = 0; i < total; i += 2000) {
    await t.ctx.db.jobEvent.createMany({ data: Array.from({ length: 2000 }, (_, k) => ({ job_id: replayJob, type: 'step', data: { step: i + k + 1, pad } })) });
  }
  // streamJobEvents on a server of its own, so the test sees the response object the replay writes to
  const app = Fastify();
  let raw!: ServerResponse;
  let waitsForDrain!: () => void;
  const waiting = new Promise<void>((r) => { waitsForDrain = r; });
  let peak = 0;
  app.get('/events', (req, reply) => {
    raw = reply.raw;
    raw.on('newListener', (name) => { if (name === 'drain') { peak = Math.max(peak, raw.writableLength); waitsForDrain(); } });
    return streamJobEvents({ db: t.ctx.db, bus: t.ctx.bus, redisKeyPrefix: t.ctx.config.redisKeyPrefix }, req, reply, replayJob);
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port: own } = app.server.address() as AddressInfo;
  const totalBytes = total * (pad.length + 100);
  try {
    const res = await new Promise<IncomingMessage>((resolve) => request({ host: '127.0.0.1', port: own, path: '/events', headers: { accept: 'text/event-stream' } }, resolve).end());
    res.pause(); // a client that does not read
    // either the replay waits for drain (bounded), or it has queued most of the history in the process
    for (;;) {
      const queuedAll = raw && raw.writableLength > totalBytes / 2;
      const result = await Promise.race([waiting.then(() => 'waits'), new Promise((r) => setTimeout(() => r(queuedAll ? 'queued' : 'poll'), 50))]);
      if (result === 'waits') break;
      assert.notEqual(result, 'queued', `the replay queued ${raw.writableLength} bytes for a client that does not read`);
    }
    assert.ok(peak < 4 * 1024 * 1024, `buffered ${peak} bytes before waiting`);
    // now read everything: all events, in order, none twice
    res.setEncoding('utf8');
    let text = '';
    let seen = 0;
    await new Promise<void>((resolve) => {
      res.on('data', (c: string) => {
        text += c;
        const parts = text.split('\n\n');
        text = parts.pop()!;
        for (const p of parts) {
          const step = /"step":(\d+)/.exec(p);
          if (!step) continue;
          assert.equal(Number(step[1]), seen + 1);
          seen++;
          if (seen === total) resolve();
        }
      });
      res.resume();
    });
    assert.equal(seen, total);
  } finally {
    app.server.closeAllConnections();
    await app.close();
  }
});
