import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { newId, type WebhookEventType } from '@npo/contracts';
import { attemptWebhookDelivery, emitWebhookEvent, newWebhookSecret } from '@npo/platform';
import { createTestContext, type TestContext } from '../../../packages/platform/src/testing.ts';
import { startWorker, type RunningWorker } from '../src/queue-consumers.ts';
import { scriptedTrainer, refuseDatasets } from './fixtures/scripted-trainer.ts';
import { seedJob, waitFor } from './helpers.ts';

// Webhook deliveries by a real worker over real Postgres and Redis to a real HTTP receiver on 127.0.0.1
// (allowed here by WEBHOOK_ALLOW_PRIVATE). Signatures are checked with the npm `standardwebhooks` package, an
// implementation of the spec independent of ours.
interface Received { path: string; headers: IncomingHttpHeaders; body: string; at: number }
let ctx: TestContext;
let worker: RunningWorker | null = null;
let server: Server;
let base: string;
const received: Received[] = [];
/** Status codes to answer per path, in order; 200 once a path's script runs out. 0 = never answer. */
const script = new Map<string, number[]>();

before(async () => {
  ctx = await createTestContext('webhooks', { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_BASE_MS: '100', WEBHOOK_TIMEOUT_MS: '5000' });
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ path: req.url!, headers: req.headers, body, at: Date.now() });
      const status = script.get(req.url!)?.shift() ?? 200;
      if (status === 0) return; // hang
      res.writeHead(status, { 'content-type': 'text/plain' }).end(`answer ${status}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  worker = await startWorker({ ...ctx, trainer: scriptedTrainer, validateDataset: refuseDatasets });
});
after(async () => {
  await worker?.close();
  server.closeAllConnections();
  server.close();
  await ctx.close();
});

async function endpoint(tenant: string, path: string, events: WebhookEventType[], url = `${base}${path}`) {
  const secret = newWebhookSecret();
  const id = newId('whk');
  await ctx.db.webhookEndpoint.create({ data: { id, tenant_id: tenant, url, secret, events } });
  return { id, secret };
}
const at = (path: string) => received.filter((r) => r.path === path);
const deliveries = (endpointId: string) => ctx.db.webhookDelivery.findMany({ where: { endpoint_id: endpointId }, orderBy: { id: 'asc' } });

test('a job’s checkpoints and success reach the endpoints subscribed to them, signed per Standard Webhooks', async () => {
  const tenant = newId('ten');
  const subscribed = await endpoint(tenant, '/job-a', ['job.succeeded', 'checkpoint.created']);
  const other = await endpoint(tenant, '/job-b', ['job.failed', 'dataset.ready']);
  const otherTenant = await endpoint(newId('ten'), '/job-c', ['job.succeeded']);
  const { id: jobId } = await seedJob(ctx, { steps: 4, checkpoint_every: 2, lora_rank: 2 }, tenant);
  await waitFor('three deliveries done', async () => {
    const d = await deliveries(subscribed.id);
    return d.length === 3 && d.every((x) => x.status === 'succeeded') && d;
  }, 60000);
  assert.equal(at('/job-a').length, 3);
  assert.deepEqual(await deliveries(other.id), [], 'not subscribed to these events');
  assert.deepEqual(await deliveries(otherTenant.id), [], 'another tenant hears nothing');
  const verifier = new Webhook(subscribed.secret);
  const payloads = at('/job-a').map((r) => {
    assert.equal(r.headers['content-type'], 'application/json');
    return verifier.verify(r.body, r.headers as Record<string, string>) as { type: string; timestamp: string; data: any };
  });
  assert.deepEqual(payloads.map((p) => p.type).sort(), ['checkpoint.created', 'checkpoint.created', 'job.succeeded']);
  const done = payloads.find((p) => p.type === 'job.succeeded')!;
  assert.equal(done.data.job.id, jobId);
  assert.equal(done.data.job.state, 'succeeded');
  assert.equal(done.data.job.step, 4);
  assert.deepEqual(payloads.filter((p) => p.type === 'checkpoint.created').map((p) => p.data.checkpoint.step).sort(), [2, 4]);
  assert.deepEqual(new Set(at('/job-a').map((r) => r.headers['webhook-id'])), new Set((await deliveries(subscribed.id)).map((d) => d.id)));
  const log = await ctx.db.webhookAttempt.findMany({ where: { delivery_id: { in: (await deliveries(subscribed.id)).map((d) => d.id) } } });
  assert.deepEqual(log.map((a) => [a.attempt, a.status_code, a.response_excerpt]), [[1, 200, 'answer 200'], [1, 200, 'answer 200'], [1, 200, 'answer 200']]);
});

test('a failing endpoint is retried with backoff until it answers 2xx; every attempt is logged and signed anew', async () => {
  const tenant = newId('ten');
  const ep = await endpoint(tenant, '/flaky', ['dataset.ready']);
  script.set('/flaky', [500, 503]);
  const [deliveryId] = await emitWebhookEvent(ctx, tenant, 'dataset.ready', { dataset: { id: 'ds_1', status: 'ready' } });
  const done = await waitFor('delivered', async () => {
    const d = await ctx.db.webhookDelivery.findUniqueOrThrow({ where: { id: deliveryId } });
    return d.status !== 'pending' && d;
  }, 30000);
  assert.equal(done.status, 'succeeded');
  assert.equal(done.attempts, 3);
  assert.equal(done.next_attempt_at, null);
  const log = await ctx.db.webhookAttempt.findMany({ where: { delivery_id: deliveryId }, orderBy: { attempt: 'asc' } });
  assert.deepEqual(log.map((a) => [a.attempt, a.status_code, a.error]), [[1, 500, 'HTTP 500'], [2, 503, 'HTTP 503'], [3, 200, null]]);
  const requests = at('/flaky');
  assert.equal(requests.length, 3);
  // measured where the requests arrive: the attempt rows are written after each answer, later under load
  assert.ok(requests[1].at - requests[0].at >= 100, 'the first retry waits the base delay');
  assert.ok(requests[2].at - requests[1].at >= 400, 'the next one four times longer');
  assert.ok(requests.every((r) => r.headers['webhook-id'] === deliveryId), 'one webhook-id for every attempt');
  for (const r of requests) new Webhook(ep.secret).verify(r.body, r.headers as Record<string, string>);
});

test('retries stop at the end of the 24 h window: the delivery fails with its attempt logged', async () => {
  const tenant = newId('ten');
  await endpoint(tenant, '/down', ['job.failed']);
  script.set('/down', [500]);
  await worker!.close();
  worker = null;
  const [id] = await emitWebhookEvent(ctx, tenant, 'job.failed', { job: { id: 'job_x' } });
  await ctx.db.webhookDelivery.update({ where: { id }, data: { created_at: new Date(Date.now() - 24 * 3600_000 + 50) } });
  const r = await attemptWebhookDelivery(ctx, id);
  assert.equal(r.outcome, 'failed');
  const d = await ctx.db.webhookDelivery.findUniqueOrThrow({ where: { id } });
  assert.deepEqual([d.status, d.attempts, d.next_attempt_at], ['failed', 1, null]);
  assert.equal((await ctx.db.webhookAttempt.findMany({ where: { delivery_id: id } })).length, 1);
  await ctx.queues.webhooks.remove(id);
});

test('deliveries survive a worker restart, and a queue entry lost with Redis is queued again from Postgres', async () => {
  const tenant = newId('ten');
  await endpoint(tenant, '/later', ['dataset.invalid']);
  assert.equal(worker, null, 'no worker running');
  const [queued] = await emitWebhookEvent(ctx, tenant, 'dataset.invalid', { dataset: { id: 'ds_2' } });
  const [lost] = await emitWebhookEvent(ctx, tenant, 'dataset.invalid', { dataset: { id: 'ds_3' } });
  await waitFor('queued', async () => (await ctx.queues.webhooks.getJob(lost)) ?? null);
  await ctx.queues.webhooks.remove(lost); // as if Redis lost it
  worker = await startWorker({ ...ctx, trainer: scriptedTrainer, validateDataset: refuseDatasets });
  for (const id of [queued, lost]) {
    const d = await waitFor(`delivery ${id}`, async () => {
      const row = await ctx.db.webhookDelivery.findUniqueOrThrow({ where: { id } });
      return row.status === 'succeeded' && row;
    }, 30000);
    assert.equal(d.attempts, 1);
  }
  assert.deepEqual(at('/later').map((r) => JSON.parse(r.body).data.dataset.id).sort(), ['ds_2', 'ds_3']);
});

test('a receiver that never answers does not hold up the job; a disabled or deleted endpoint ends its deliveries', async () => {
  const tenant = newId('ten');
  const hang = await endpoint(tenant, '/hang', ['job.succeeded']);
  script.set('/hang', [0]);
  const { id: jobId } = await seedJob(ctx, { steps: 2, checkpoint_every: 50, lora_rank: 2 }, tenant);
  const job = await waitFor('job done', async () => {
    const j = await ctx.db.job.findUniqueOrThrow({ where: { id: jobId } });
    return ['succeeded', 'failed'].includes(j.state) && j;
  }, 60000);
  assert.equal(job.state, 'succeeded');
  // the delivery row is written just after the job's terminal state
  const [pending] = await waitFor('the job.succeeded delivery', async () => { const d = await deliveries(hang.id); return d.length > 0 && d; });
  assert.equal(pending.status, 'pending', 'the job finished while its webhook is still unanswered');
  assert.equal(JSON.parse(JSON.stringify(pending.payload)).data.job.id, jobId);

  const disabled = await endpoint(tenant, '/off', ['dataset.ready']);
  await ctx.db.webhookEndpoint.update({ where: { id: disabled.id }, data: { enabled: false } });
  assert.deepEqual(await emitWebhookEvent(ctx, tenant, 'dataset.ready', {}), [], 'a disabled endpoint gets no new deliveries');
  // a delivery made while it was enabled, not queued here so that only this call attempts it
  const d1 = newId('msg');
  await ctx.db.webhookDelivery.create({ data: { id: d1, endpoint_id: disabled.id, tenant_id: tenant, event_type: 'dataset.ready', payload: {}, status: 'pending' } });
  assert.equal((await attemptWebhookDelivery(ctx, d1)).outcome, 'failed');
  const log = await ctx.db.webhookAttempt.findMany({ where: { delivery_id: d1 } });
  assert.deepEqual(log.map((a) => [a.status_code, a.error]), [[null, 'endpoint disabled']]);
});

test('without WEBHOOK_ALLOW_PRIVATE a name resolving to a loopback address is refused at delivery, and not retried', async () => {
  const tenant = newId('ten');
  const port = (server.address() as AddressInfo).port;
  await endpoint(tenant, '/private', ['dataset.ready'], `http://localhost:${port}/private`);
  const [id] = await emitWebhookEvent(ctx, tenant, 'dataset.ready', {});
  await ctx.queues.webhooks.remove(id).catch(() => {});
  const strict = { db: ctx.db, config: { webhooks: { ...ctx.config.webhooks, allowPrivate: false } } };
  assert.equal((await attemptWebhookDelivery(strict, id)).outcome, 'failed');
  const [attempt] = await ctx.db.webhookAttempt.findMany({ where: { delivery_id: id } });
  assert.match(attempt.error ?? '', /localhost resolved to (127\.0\.0\.1|::1), a loopback or private address/);
  assert.equal(at('/private').length, 0, 'nothing was sent');
});
