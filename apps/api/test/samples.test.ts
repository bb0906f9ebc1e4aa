import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SAMPLE_LIMITS } from '@npo/contracts';
import { createTestApi, bearer, seedReady, type TestApi } from './helpers.ts';

// The sampling endpoints' bookkeeping and every refusal; the rendering itself runs on a worker
// (apps/worker/test/e2e-samples.test.ts).
let t: TestApi;
let seeded: { model: string; dataset: string };
let npoJob: string;
let dpoJob: string;
before(async () => {
  t = await createTestApi('samples');
  seeded = await seedReady(t.ctx.db, t.tenantA, { pixelSpace: true, sampleSize: 32 });
  npoJob = await createJob('npo', [2, 4]);
  dpoJob = await createJob('dpo', [3]);
});
after(async () => { await t.close(); });

async function createJob(method: string, checkpoints: number[], model = seeded.model, dataset = seeded.dataset, key = t.keyA) {
  const res = await t.app.inject({ method: 'POST', url: '/v1/jobs', headers: { ...bearer(key), 'content-type': 'application/json' }, payload: { model, dataset, method } });
  assert.equal(res.statusCode, 201, res.body);
  const id = res.json().id;
  for (const step of checkpoints) {
    await t.ctx.db.checkpoint.create({ data: { job_id: id, step, s3_prefix: `jobs/${id}/checkpoints/step-${step}`, files: ['adapter_model.safetensors'] } });
  }
  return id;
}

const post = (url: string, body: unknown, key = t.keyA) =>
  t.app.inject({ method: 'POST', url, headers: { ...bearer(key), 'content-type': 'application/json' }, payload: JSON.stringify(body) });

test("a job's samples: queued under their own id with defaults; the adapter in its method's role at the latest checkpoint", async () => {
  const res = await post(`/v1/jobs/${npoJob}/samples`, { prompts: ['a red circle'] });
  assert.equal(res.statusCode, 202, res.body);
  const s = res.json();
  assert.equal(s.status, 'queued');
  assert.equal(s.kind, 'request');
  assert.equal(s.job, npoJob);
  assert.deepEqual(s.request, { prompts: ['a red circle'], negative_prompt: '', seeds: [0, 1, 2, 3], guidance: [7.5], steps: 20, sampler: 'ddim' });
  assert.deepEqual(s.adapters, [{ job: npoJob, checkpoint: 4, role: 'negative' }]);
  assert.equal(s.grid_url, null);
  assert.deepEqual((await t.ctx.queues.samples.getJob(s.id))?.data, { sampleId: s.id });
  const polled = await t.app.inject({ url: `/v1/samples/${s.id}`, headers: bearer(t.keyA) });
  assert.equal(polled.statusCode, 200);
  assert.equal(polled.json().id, s.id);
  const listed = (await t.app.inject({ url: `/v1/jobs/${npoJob}/samples`, headers: bearer(t.keyA) })).json();
  assert.ok(listed.data.some((x: { id: string }) => x.id === s.id));
});

test('DPO + NPO: the DPO job positive, another job of the tenant negative, at the checkpoints asked for', async () => {
  const res = await post(`/v1/jobs/${dpoJob}/samples`, { prompts: ['a'], seeds: [7], guidance: [3, 7], steps: 5, sampler: 'euler', negative_prompt: 'blurry', other_adapter: { job: npoJob, checkpoint: 2 } });
  assert.equal(res.statusCode, 202, res.body);
  assert.deepEqual(res.json().adapters, [{ job: dpoJob, checkpoint: 3, role: 'positive' }, { job: npoJob, checkpoint: 2, role: 'negative' }]);
  const row = await t.ctx.db.sampleSet.findUnique({ where: { id: res.json().id } });
  assert.deepEqual((row!.request as { adapters: { key: string }[] }).adapters.map((a) => a.key), [`jobs/${dpoJob}/checkpoints/step-3/adapter_model.safetensors`, `jobs/${npoJob}/checkpoints/step-2/adapter_model.safetensors`]);
  const swapped = await post(`/v1/jobs/${npoJob}/samples`, { prompts: ['a'], role: 'positive' });
  assert.deepEqual(swapped.json().adapters, [{ job: npoJob, checkpoint: 4, role: 'positive' }]);
});

test('a base model alone: one arm, no adapters', async () => {
  const res = await post(`/v1/models/${seeded.model}/samples`, { prompts: ['a', 'b'], seeds: [1] });
  assert.equal(res.statusCode, 202, res.body);
  assert.equal(res.json().job, null);
  assert.deepEqual(res.json().adapters, []);
});

test('bounds: each field and the image count answer 400 with a code and the field', async () => {
  const bad: [unknown, string][] = [
    [{}, 'prompts'],
    [{ prompts: [] }, 'prompts'],
    [{ prompts: Array(SAMPLE_LIMITS.prompts + 1).fill('a') }, 'prompts'],
    [{ prompts: ['x'.repeat(SAMPLE_LIMITS.promptLength + 1)] }, 'prompts'],
    [{ prompts: [''] }, 'prompts'],
    [{ prompts: ['a\u0000b'] }, 'prompts'],
    [{ prompts: ['a'], negative_prompt: '\ud800' }, 'negative_prompt'],
    [{ prompts: ['a'], checkpoint: 2147483648 }, 'checkpoint'],
    [{ prompts: ['a'], seeds: [1, 1] }, 'seeds'],
    [{ prompts: ['a'], seeds: Array.from({ length: SAMPLE_LIMITS.seeds + 1 }, (_, i) => i) }, 'seeds'],
    [{ prompts: ['a'], seeds: [-1] }, 'seeds'],
    [{ prompts: ['a'], steps: 0 }, 'steps'],
    [{ prompts: ['a'], steps: SAMPLE_LIMITS.steps + 1 }, 'steps'],
    [{ prompts: ['a'], guidance: [31] }, 'guidance'],
    [{ prompts: ['a'], sampler: 'plms' }, 'sampler'],
    [{ prompts: ['a'], colour: 'red' }, 'colour'],
  ];
  for (const [body, field] of bad) {
    const res = await post(`/v1/jobs/${npoJob}/samples`, body);
    assert.equal(res.statusCode, 400, `${JSON.stringify(body).slice(0, 80)} → ${res.statusCode} ${res.body}`);
    assert.equal(res.json().error.code, 'validation_error');
    assert.match(JSON.stringify(res.json().error), new RegExp(field), res.body);
  }
  const many = await post(`/v1/jobs/${npoJob}/samples`, { prompts: Array(16).fill('a'), seeds: [0, 1, 2, 3, 4] });
  assert.equal(many.statusCode, 400);
  assert.equal(many.json().error.code, 'too_many_images');
  assert.deepEqual(many.json().error.details, { images: 160, limit: SAMPLE_LIMITS.images });
  const self = await post(`/v1/jobs/${npoJob}/samples`, { prompts: ['a'], other_adapter: { job: npoJob } });
  assert.equal(self.statusCode, 400);
  assert.equal(self.json().error.code, 'same_adapter_twice');
});

test('404s and 409s: missing checkpoint, no checkpoint yet, other model, other tenant', async () => {
  const missing = await post(`/v1/jobs/${npoJob}/samples`, { prompts: ['a'], checkpoint: 3 });
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json().error.details.resource, 'checkpoint');
  const fresh = await createJob('npo', []);
  const none = await post(`/v1/jobs/${fresh}/samples`, { prompts: ['a'] });
  assert.equal(none.statusCode, 409);
  assert.equal(none.json().error.code, 'no_checkpoint');
  const other = await seedReady(t.ctx.db, t.tenantA);
  const onOtherModel = await createJob('npo', [1], other.model, other.dataset);
  const mismatch = await post(`/v1/jobs/${dpoJob}/samples`, { prompts: ['a'], other_adapter: { job: onOtherModel } });
  assert.equal(mismatch.statusCode, 409);
  assert.equal(mismatch.json().error.code, 'adapter_model_mismatch');
  // tenant B sees none of tenant A's jobs, adapters, models or sample sets
  const b = await seedReady(t.ctx.db, t.tenantB);
  const jobB = await createJob('npo', [1], b.model, b.dataset, t.keyB);
  const sA = (await post(`/v1/jobs/${npoJob}/samples`, { prompts: ['a'] })).json().id;
  for (const [method, url, body] of [
    ['POST', `/v1/jobs/${npoJob}/samples`, { prompts: ['a'] }],
    ['POST', `/v1/jobs/${jobB}/samples`, { prompts: ['a'], other_adapter: { job: npoJob } }],
    ['POST', `/v1/models/${seeded.model}/samples`, { prompts: ['a'] }],
    ['GET', `/v1/samples/${sA}`, undefined],
    ['GET', `/v1/jobs/${npoJob}/samples`, undefined],
    ['POST', `/v1/samples/${sA}/cancel`, undefined],
    ['GET', `/v1/samples/${sA}/files/grid.png`, undefined],
  ] as const) {
    const res = await t.app.inject({ method, url, headers: { ...bearer(t.keyB), ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { payload: JSON.stringify(body) } : {}) });
    assert.equal(res.statusCode, 404, `${method} ${url}: ${res.body}`);
    assert.equal(res.json().error.code, 'not_found');
  }
  const unauth = await t.app.inject({ method: 'POST', url: `/v1/jobs/${npoJob}/samples`, payload: { prompts: ['a'] } });
  assert.equal(unauth.statusCode, 401);
});

test('cancel: a queued set is cancelled at once and leaves the queue; a finished one answers 409', async () => {
  const s = (await post(`/v1/models/${seeded.model}/samples`, { prompts: ['a'] })).json();
  const res = await post(`/v1/samples/${s.id}/cancel`, {});
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().status, 'cancelled');
  assert.equal(await t.ctx.queues.samples.getJob(s.id), undefined);
  const again = await post(`/v1/samples/${s.id}/cancel`, {});
  assert.equal(again.statusCode, 409);
  assert.equal(again.json().error.code, 'sample_not_cancellable');
  const file = await t.app.inject({ url: `/v1/samples/${s.id}/files/grid.png`, headers: bearer(t.keyA) });
  assert.equal(file.statusCode, 404, 'a set without a result has no files');
});

test('validation prompts on a job: defaults filled; every must land on checkpoints', async () => {
  const body = { model: seeded.model, dataset: seeded.dataset, method: 'npo', hyperparameters: { checkpoint_every: 10 }, validation: { prompts: ['a red circle'], every: 20 } };
  const res = await post('/v1/jobs', body);
  assert.equal(res.statusCode, 201, res.body);
  assert.deepEqual(res.json().validation, { prompts: ['a red circle'], seeds: [0, 1, 2, 3], guidance: 7.5, every: 20, steps: 20 });
  const off = await post('/v1/jobs', { ...body, validation: { prompts: ['a'], every: 15 } });
  assert.equal(off.statusCode, 400);
  assert.equal(off.json().error.code, 'validation_every_not_multiple');
  const tooMany = await post('/v1/jobs', { ...body, validation: { prompts: Array(9).fill('a') } });
  assert.equal(tooMany.statusCode, 400);
  const plain = await post('/v1/jobs', { model: seeded.model, dataset: seeded.dataset, method: 'npo' });
  assert.equal(plain.json().validation, null);
});
