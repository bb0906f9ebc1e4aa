import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createTestApi, bearer, seedReady, type TestApi } from './helpers.ts';

let t: TestApi;
let seeded: { model: string; dataset: string };
before(async () => {
  t = await createTestApi('jobs');
  seeded = await seedReady(t.ctx.db, t.tenantA, { pixelSpace: true, sampleSize: 32 });
});
after(async () => { await t.close(); });

const post = (body: unknown, headers: Record<string, string> = {}, key = t.keyA) =>
  t.app.inject({ method: 'POST', url: '/v1/jobs', headers: { ...bearer(key), 'content-type': 'application/json', ...headers }, payload: typeof body === 'string' ? body : JSON.stringify(body) });

test('a job is created queued with documented defaults and enqueued under its own id', async () => {
  const res = await post({ model: seeded.model, dataset: seeded.dataset, method: 'npo', metadata: { run: 'a' } });
  assert.equal(res.statusCode, 201, res.body);
  const job = res.json();
  assert.equal(job.status, 'queued');
  assert.equal(job.state, 'queued', 'state: the deprecated alias of status');
  assert.deepEqual(job.hyperparameters, {
    steps: 400, batch_pairs: 16, gradient_accumulation_steps: 1, learning_rate: 1e-5, beta: 1000, lora_rank: 8, lora_alpha: 8, lora_targets: 'attn', warmup_steps: 10,
    lr_schedule: 'constant', max_grad_norm: 1, resolution: 32, checkpoint_every: 50, seed: 0, precision: 'fp32',
  });
  assert.deepEqual(job.progress, { step: 0, total_steps: 400, percent: 0, eta_seconds: null, preparation: null });
  assert.deepEqual(job.metadata, { run: 'a' });
  assert.equal(job.error, null);
  const q = await t.ctx.queues.train.getJob(job.id);
  assert.deepEqual(q?.data, { jobId: job.id });
  const dpo = (await post({ model: seeded.model, dataset: seeded.dataset, method: 'dpo', hyperparameters: { lora_rank: 4 } })).json();
  assert.equal(dpo.hyperparameters.beta, 5000);
  assert.equal(dpo.hyperparameters.lora_alpha, 4, 'alpha defaults to the rank');
  for (const lora_targets of ['attn+ff', 'all-linear', ['to_k', 'attn2.to_v', 'ff.net.2']]) {
    const res = await post({ model: seeded.model, dataset: seeded.dataset, method: 'npo', hyperparameters: { lora_targets } });
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual(res.json().hyperparameters.lora_targets, lora_targets);
  }
  const latent = await seedReady(t.ctx.db, t.tenantA, { pixelSpace: false, sampleSize: 64 });
  const sd = (await post({ model: latent.model, dataset: latent.dataset, method: 'npo' })).json();
  assert.equal(sd.hyperparameters.resolution, 512, 'latent models train at sample_size × 8');
});

test('a default never makes a request invalid: {"steps": 6} gets a warm-up of 6; the row keeps the trainer-only values too', async () => {
  const res = await post({ model: seeded.model, dataset: seeded.dataset, method: 'npo', hyperparameters: { steps: 6 } });
  assert.equal(res.statusCode, 201, res.body);
  assert.equal(res.json().hyperparameters.warmup_steps, 6);
  assert.equal(res.json().hyperparameters.weight_decay, undefined, 'not part of the API');
  const row = await t.ctx.db.job.findUniqueOrThrow({ where: { id: res.json().id } });
  assert.deepEqual({ ...(row.hyperparameters as object) }, { ...res.json().hyperparameters, weight_decay: 0.01, prompt_dropout: 0 });
});

test('Idempotency-Key: same key and body → same job (200); other body → 409 idempotency_conflict', async () => {
  const body = { model: seeded.model, dataset: seeded.dataset, method: 'npo', hyperparameters: { steps: 10, seed: 3 } };
  const first = await post(body, { 'idempotency-key': 'k-1' });
  assert.equal(first.statusCode, 201);
  // same body with keys in another order is the same request
  const again = await post({ hyperparameters: { seed: 3, steps: 10 }, method: 'npo', dataset: seeded.dataset, model: seeded.model }, { 'idempotency-key': 'k-1' });
  assert.equal(again.statusCode, 200);
  assert.equal(again.json().id, first.json().id);
  const other = await post({ ...body, hyperparameters: { steps: 11 } }, { 'idempotency-key': 'k-1' });
  assert.equal(other.statusCode, 409);
  assert.equal(other.json().error.code, 'idempotency_conflict');
  // concurrent duplicates still make one job
  const racing = await Promise.all([1, 2, 3, 4].map(() => post(body, { 'idempotency-key': 'k-race' })));
  assert.equal(new Set(racing.map((r) => r.json().id)).size, 1);
  assert.deepEqual(racing.map((r) => r.statusCode).sort(), [200, 200, 200, 201]);
  // keys are per tenant
  const b = await seedReady(t.ctx.db, t.tenantB);
  const otherTenant = await post({ model: b.model, dataset: b.dataset, method: 'npo' }, { 'idempotency-key': 'k-1' }, t.keyB);
  assert.equal(otherTenant.statusCode, 201);
});

test('cursor pagination walks every job exactly once, newest first, with filters', async () => {
  const fresh = await seedReady(t.ctx.db, t.tenantA);
  const ids: string[] = [];
  for (let i = 0; i < 7; i++) ids.push((await post({ model: fresh.model, dataset: fresh.dataset, method: i % 2 ? 'dpo' : 'npo' })).json().id);
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res: { statusCode: number; body: string; json: () => any } = await t.app.inject({ url: `/v1/jobs?limit=3&dataset=${fresh.dataset}${cursor ? `&cursor=${cursor}` : ''}`, headers: bearer(t.keyA) });
    assert.equal(res.statusCode, 200, res.body);
    const page = res.json();
    seen.push(...page.data.map((j: { id: string }) => j.id));
    cursor = page.next_cursor;
    pages++;
  } while (cursor);
  assert.equal(pages, 3);
  assert.deepEqual(seen, [...ids].reverse());
  const byModel = (await t.app.inject({ url: `/v1/jobs?model=${fresh.model}&status=queued&limit=200`, headers: bearer(t.keyA) })).json();
  assert.equal(byModel.data.length, 7);
  const none = (await t.app.inject({ url: `/v1/jobs?model=${fresh.model}&status=training`, headers: bearer(t.keyA) })).json();
  assert.equal(none.data.length, 0);
  // ?state= is the deprecated alias of ?status=: it filters the same; both at once must agree
  const byAlias = (await t.app.inject({ url: `/v1/jobs?model=${fresh.model}&state=queued&limit=200`, headers: bearer(t.keyA) })).json();
  assert.deepEqual(byAlias.data.map((j: { id: string }) => j.id), byModel.data.map((j: { id: string }) => j.id));
  assert.equal((await t.app.inject({ url: `/v1/jobs?model=${fresh.model}&state=training`, headers: bearer(t.keyA) })).json().data.length, 0);
  assert.equal((await t.app.inject({ url: `/v1/jobs?model=${fresh.model}&status=queued&state=queued`, headers: bearer(t.keyA) })).json().data.length, 7);
  const conflicting = await t.app.inject({ url: `/v1/jobs?status=queued&state=training`, headers: bearer(t.keyA) });
  assert.equal(conflicting.statusCode, 400);
  assert.equal(conflicting.json().error.code, 'validation_error');
  assert.equal(conflicting.json().error.details.field, 'querystring.state');
  const badStatus = await t.app.inject({ url: `/v1/jobs?status=done`, headers: bearer(t.keyA) });
  assert.equal(badStatus.statusCode, 400);
  assert.equal(badStatus.json().error.details.field, 'querystring.status');
  const bad = await t.app.inject({ url: '/v1/jobs?cursor=!!!', headers: bearer(t.keyA) });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().error.code, 'invalid_cursor');
});

test('cancelling a queued job cancels it at once and removes its queue entry; cancelling again is 409', async () => {
  const job = (await post({ model: seeded.model, dataset: seeded.dataset, method: 'npo' })).json();
  const res = await t.app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel`, headers: bearer(t.keyA) });
  assert.equal(res.statusCode, 200);
  assert.equal(res.json().status, 'cancelled');
  assert.equal(res.json().state, 'cancelled');
  assert.ok(res.json().finished_at);
  assert.equal(await t.ctx.queues.train.getJob(job.id), undefined);
  const again = await t.app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel`, headers: bearer(t.keyA) });
  assert.equal(again.statusCode, 409);
  assert.equal(again.json().error.code, 'job_not_cancellable');
  const events = (await t.app.inject({ url: `/v1/jobs/${job.id}/events`, headers: bearer(t.keyA) })).json();
  assert.deepEqual(events.data.map((e: { data: { status: string; state: string } }) => [e.data.status, e.data.state]), [['queued', 'queued'], ['cancelled', 'cancelled']]);
});

test('a job webhook payload says status, with the deprecated state beside it', async () => {
  const hook = await t.app.inject({ method: 'POST', url: '/v1/webhooks', headers: bearer(t.keyA), payload: { url: 'https://hooks.example.com/status', events: ['job.cancelled'] } });
  assert.equal(hook.statusCode, 201, hook.body);
  const job = (await post({ model: seeded.model, dataset: seeded.dataset, method: 'npo' })).json();
  await t.app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel`, headers: bearer(t.keyA) });
  const delivery = await t.ctx.db.webhookDelivery.findFirst({ where: { endpoint_id: hook.json().id } });
  const payload = delivery!.payload as { type: string; data: { job: { id: string; status: string; state: string } } };
  assert.equal(payload.type, 'job.cancelled');
  assert.deepEqual([payload.data.job.id, payload.data.job.status, payload.data.job.state], [job.id, 'cancelled', 'cancelled']);
});

test('cancelling a running job marks it cancelling and tells the workers over Redis', async () => {
  const job = (await post({ model: seeded.model, dataset: seeded.dataset, method: 'npo' })).json();
  await t.ctx.db.job.update({ where: { id: job.id }, data: { state: 'training' } }); // as a worker would have
  const heard = new Promise((resolve) => { void t.ctx.bus.subscribe(`${t.ctx.config.redisKeyPrefix}:cancel`, resolve); });
  await new Promise((r) => setTimeout(r, 50));
  const res = await t.app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel`, headers: bearer(t.keyA) });
  assert.equal(res.json().status, 'cancelling');
  assert.deepEqual(await heard, { jobId: job.id });
});

test('SSE streams the job events live and ends at a terminal state', async () => {
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  const job = (await post({ model: seeded.model, dataset: seeded.dataset, method: 'npo' })).json();
  const res = await fetch(`${base}/v1/jobs/${job.id}/events`, { headers: { ...bearer(t.keyA), accept: 'text/event-stream' } });
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  const reader = res.body!.getReader();
  let text = '';
  const readUntil = async (re: RegExp) => {
    while (!re.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
  };
  await readUntil(/"state":"queued"/);
  await fetch(`${base}/v1/jobs/${job.id}/cancel`, { method: 'POST', headers: bearer(t.keyA) });
  await readUntil(/"state":"cancelled"/);
  const { done } = await reader.read();
  assert.equal(done, true, 'the stream ends after the terminal event');
  const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
  assert.equal(ids.length, 2);
  assert.ok(ids[0] < ids[1]);
});

test('SSE without Last-Event-ID replays every stored event of a long finished job, past one replay page', async () => {
  if (!t.app.server.listening) await t.app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  const job = (await post({ model: seeded.model, dataset: seeded.dataset, method: 'npo' })).json();
  await t.ctx.db.jobEvent.createMany({ data: Array.from({ length: 2500 }, (_, i) => ({ job_id: job.id, type: 'step', data: { step: i + 1 } })) });
  await t.ctx.db.job.update({ where: { id: job.id }, data: { state: 'succeeded' } });
  await t.ctx.db.jobEvent.create({ data: { job_id: job.id, type: 'state', data: { state: 'succeeded' } } });
  const res = await fetch(`${base}/v1/jobs/${job.id}/events`, { headers: { ...bearer(t.keyA), accept: 'text/event-stream' } });
  const text = await res.text(); // the stream ends by itself after the terminal event
  const types = [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
  assert.equal(types.length, 2502, 'queued, 2500 steps, succeeded');
  assert.deepEqual([types[0], types[1], types[2500], types[2501]], ['state', 'step', 'step', 'state']);
  // an event stored with only the old name is served with both
  assert.match(text, /"data":\{"status":"succeeded","state":"succeeded"\}/);
});

test('another tenant gets 404 for every job route', async () => {
  const job = (await post({ model: seeded.model, dataset: seeded.dataset, method: 'npo' })).json();
  for (const [method, url] of [['GET', ''], ['POST', '/cancel'], ['GET', '/events'], ['GET', '/metrics'], ['GET', '/checkpoints'], ['GET', '/samples'], ['GET', '/checkpoints/0/download']] as const) {
    const res = await t.app.inject({ method, url: `/v1/jobs/${job.id}${url}`, headers: bearer(t.keyB) });
    assert.equal(res.statusCode, 404, `${method} ${url}`);
    assert.equal(res.json().error.code, 'not_found');
  }
  assert.equal((await t.app.inject({ url: '/v1/jobs', headers: bearer(t.keyB) })).json().data.some((j: { id: string }) => j.id === job.id), false);
  // nor can it train on tenant A's model or dataset
  const b = await seedReady(t.ctx.db, t.tenantB);
  assert.equal((await post({ model: seeded.model, dataset: b.dataset, method: 'npo' }, {}, t.keyB)).statusCode, 404);
  assert.equal((await post({ model: b.model, dataset: seeded.dataset, method: 'npo' }, {}, t.keyB)).statusCode, 404);
  assert.equal((await t.app.inject({ url: `/v1/models/${seeded.model}`, headers: bearer(t.keyB) })).statusCode, 404);
});

test('built-in models (owner null) are visible to every tenant', async () => {
  await t.ctx.db.model.create({ data: { id: 'tiny-sd', tenant_id: null, name: 'tiny-sd', source: 'builtin', s3_prefix: 'models/builtin/tiny-sd', status: 'ready', info: { pixelSpace: true, sampleSize: 32 } } });
  for (const key of [t.keyA, t.keyB]) {
    const res = await t.app.inject({ url: '/v1/models/tiny-sd', headers: bearer(key) });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().builtin, true);
    const list = (await t.app.inject({ url: '/v1/models?limit=200', headers: bearer(key) })).json();
    assert.ok(list.data.some((m: { id: string }) => m.id === 'tiny-sd'));
  }
});

test('checkpoint listing and download: 302 to a presigned URL, or streamed with ?stream=1', async () => {
  const job = (await post({ model: seeded.model, dataset: seeded.dataset, method: 'npo' })).json();
  const prefix = `jobs/${job.id}/checkpoints/step-5`;
  await t.ctx.storage.putBuffer(`${prefix}/adapter_model.safetensors`, Buffer.from('adapter-bytes'));
  assert.equal((await t.app.inject({ url: `/v1/jobs/${job.id}/checkpoints/5/download`, headers: bearer(t.keyA) })).statusCode, 404, 'files without a row are not a checkpoint');
  await t.ctx.db.checkpoint.create({ data: { job_id: job.id, step: 5, s3_prefix: prefix, files: ['adapter_model.safetensors'], final: false } });
  const list = (await t.app.inject({ url: `/v1/jobs/${job.id}/checkpoints`, headers: bearer(t.keyA) })).json();
  assert.deepEqual(list.data.map((c: { step: number }) => c.step), [5]);
  const redirect = await t.app.inject({ url: `/v1/jobs/${job.id}/checkpoints/5/download`, headers: bearer(t.keyA) });
  assert.equal(redirect.statusCode, 302);
  const fetched = await fetch(redirect.headers.location as string);
  assert.equal(await fetched.text(), 'adapter-bytes');
  const streamed = await t.app.inject({ url: `/v1/jobs/${job.id}/checkpoints/5/download?stream=1`, headers: bearer(t.keyA) });
  assert.equal(streamed.statusCode, 200);
  assert.equal(streamed.body, 'adapter-bytes');
  // kohya naming: 409 for a checkpoint that predates the export; the file beside the PEFT one when it exists
  const oldKohya = await t.app.inject({ url: `/v1/jobs/${job.id}/checkpoints/5/download?format=kohya`, headers: bearer(t.keyA) });
  assert.equal(oldKohya.statusCode, 409, oldKohya.body);
  assert.equal(oldKohya.json().error.code, 'format_not_available');
  await t.ctx.storage.putBuffer(`${prefix}/adapter_kohya.safetensors`, Buffer.from('kohya-bytes'));
  await t.ctx.db.checkpoint.update({ where: { job_id_step: { job_id: job.id, step: 5 } }, data: { files: ['adapter_model.safetensors', 'adapter_kohya.safetensors'] } });
  const kohya = await t.app.inject({ url: `/v1/jobs/${job.id}/checkpoints/5/download?format=kohya&stream=1`, headers: bearer(t.keyA) });
  assert.equal(kohya.statusCode, 200);
  assert.equal(kohya.body, 'kohya-bytes');
  assert.match(kohya.headers['content-disposition'] as string, /step-5-adapter_kohya\.safetensors/);
  const peft = await t.app.inject({ url: `/v1/jobs/${job.id}/checkpoints/5/download?format=peft&stream=1`, headers: bearer(t.keyA) });
  assert.equal(peft.body, 'adapter-bytes');
  const badFormat = await t.app.inject({ url: `/v1/jobs/${job.id}/checkpoints/5/download?format=ckpt`, headers: bearer(t.keyA) });
  assert.equal(badFormat.statusCode, 400);
  assert.equal(badFormat.json().error.details.field, 'querystring.format');
});

test('metrics: each step\'s step_ms and peak_rss_mb in the series and the job\'s latest metrics; null for steps stored before peak_rss_mb was measured', async () => {
  const job = (await post({ model: seeded.model, dataset: seeded.dataset, method: 'npo' })).json();
  const get = async (url: string) => (await t.app.inject({ url, headers: bearer(t.keyA) })).json();
  const old = { step: 1, loss: 0.7, implicit_acc: 0.5, lr: 1e-5, grad_norm: 1, step_ms: 900 };
  // as a worker from before the column wrote them
  await t.ctx.db.job.update({ where: { id: job.id }, data: { state: 'training', step: 1, latest_metrics: old } });
  await t.ctx.db.jobMetric.create({ data: { job_id: job.id, ...old } });
  assert.deepEqual((await get(`/v1/jobs/${job.id}`)).metrics, { ...old, peak_rss_mb: null });
  const now = { step: 2, loss: 0.6, implicit_acc: 0.5, lr: 1e-5, grad_norm: 1, step_ms: 800, peak_rss_mb: 1234 };
  await t.ctx.db.job.update({ where: { id: job.id }, data: { step: 2, latest_metrics: now } });
  await t.ctx.db.jobMetric.create({ data: { job_id: job.id, ...now } });
  assert.deepEqual((await get(`/v1/jobs/${job.id}`)).metrics, now);
  const series = (await get(`/v1/jobs/${job.id}/metrics`)).data;
  assert.deepEqual(series.map((m: { step: number; step_ms: number; peak_rss_mb: number | null }) => [m.step, m.step_ms, m.peak_rss_mb]), [[1, 900, null], [2, 800, 1234]]);
});
