import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import type { Db, EventBus } from '@npo/platform';
import { streamJobEvents } from '../src/services/sse.ts';

// A client that hangs up while the stream is still subscribing must not leave the Redis subscription (and its
// heartbeat timer) behind: nothing would ever end them.
test('an SSE client that disconnects before the subscription is ready leaves no subscription behind', async () => {
  let subscribeStarted!: () => void;
  const started = new Promise<void>((resolve) => { subscribeStarted = resolve; });
  let releaseSubscribe!: () => void;
  const gate = new Promise<void>((resolve) => { releaseSubscribe = resolve; });
  let unsubscribed = 0;
  const bus = {
    async subscribe() {
      subscribeStarted();
      await gate;
      return async () => { unsubscribed++; };
    },
  } as unknown as EventBus;
  const db = {
    jobEvent: { findMany: async () => [] },
    job: { findUnique: async () => ({ state: 'training' }) },
  } as unknown as Db;
  const app = Fastify();
  let handlerDone!: Promise<unknown>;
  app.get('/events', (req, reply) => {
    handlerDone = streamJobEvents({ db, bus, redisKeyPrefix: 't' }, req, reply, 'job_1');
    return handlerDone;
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    const { port } = app.server.address() as AddressInfo;
    const req = request({ host: '127.0.0.1', port, path: '/events', headers: { accept: 'text/event-stream' } });
    const gotHeaders = new Promise<void>((resolve) => req.on('response', (res) => { res.resume(); resolve(); }));
    req.on('error', () => {});
    req.end();
    await started;
    await gotHeaders;
    req.destroy(); // the client leaves while subscribe() is still pending
    await new Promise((r) => setTimeout(r, 100));
    releaseSubscribe();
    await handlerDone;
    const deadline = Date.now() + 2000;
    while (unsubscribed === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(unsubscribed, 1, 'the subscription made after the client left is released');
  } finally {
    app.server.closeAllConnections();
    await app.close();
  }
});
