import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { Channels, newId } from '@npo/contracts';
import { jobUsage, summarize } from '@npo/platform';
import { SafetensorsFile } from '../../../packages/graph/src/safetensors.ts';
import { createTestContext, type TestContext } from '../../../packages/platform/src/testing.ts';
import { startWorker, type RunningWorker } from '../src/queue-consumers.ts';
import { scriptedTrainer, refuseDatasets } from './fixtures/scripted-trainer.ts';
import { seedJob, waitFor } from './helpers.ts';
import { isPublished, preparedCacheKey, preparedPrefix } from '../src/prepared-cache.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The training stage's bookkeeping over real Postgres, Redis and S3, with the scripted stand-in trainer.
let ctx: TestContext;
let worker: RunningWorker | null = null;
// 36 EUR per CPU-hour: one device-second costs exactly 0.01
before(async () => { ctx = await createTestContext('trainbook', { PRICE_TABLE: '{"currency":"EUR","per_device_hour":{"cpu":36}}' }); });
after(async () => {
  await worker?.close();
  await ctx.close();
});

const startInProcess = async () => {
  worker = await startWorker({ ...ctx, trainer: scriptedTrainer, validateDataset: refuseDatasets });
};
const job = (id: string) => ctx.db.job.findUniqueOrThrow({ where: { id } });
// the queue's job completes once the run has returned: its usage rows are all written (the job row ends earlier)
const runOver = (id: string) => waitFor('the run to end', async () => (await (await ctx.queues.train.getJob(id))?.getState()) === 'completed');

test('a job runs to success: states, metrics, complete checkpoints in S3 with rows, final adapter, sample grid', async () => {
  await startInProcess();
  const { id } = await seedJob(ctx, { steps: 10, checkpoint_every: 4, lora_rank: 2 });
  const done = await waitFor('success', async () => { const j = await job(id); return ['succeeded', 'failed'].includes(j.state) && j; });
  assert.equal(done.state, 'succeeded', done.error_message ?? '');
  assert.equal(done.step, 10);
  assert.equal(done.final_adapter_key, `jobs/${id}/checkpoints/step-10/adapter_model.safetensors`);
  // the row turns succeeded just before its state event is written (JobRecord.finish): wait for the event, then compare
  const stateEvents = () => ctx.db.jobEvent.findMany({ where: { job_id: id, type: 'state' }, orderBy: { id: 'asc' } });
  const events = await waitFor('the succeeded event', async () => { const e = await stateEvents(); return e.some((x) => (x.data as { state: string }).state === 'succeeded') && e; });
  assert.deepEqual(events.map((e) => (e.data as { state: string }).state), ['preparing', 'compiling', 'training', 'succeeded']);
  const metrics = await ctx.db.jobMetric.findMany({ where: { job_id: id }, orderBy: { step: 'asc' } });
  assert.deepEqual(metrics.map((m) => m.step), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const cps = await ctx.db.checkpoint.findMany({ where: { job_id: id }, orderBy: { step: 'asc' } });
  assert.deepEqual(cps.map((c) => [c.step, c.final]), [[4, false], [8, false], [10, true]]);
  for (const c of cps) {
    assert.deepEqual((await ctx.storage.list(c.s3_prefix)).sort(), ['adapter_model.safetensors', 'optimizer.safetensors', 'trainer_state.json'].map((f) => `jobs/${id}/checkpoints/step-${c.step}/${f}`));
  }
  const dir = mkdtempSync(join(tmpdir(), 'npo-adapter-'));
  writeFileSync(join(dir, 'a.safetensors'), await ctx.storage.getBuffer(done.final_adapter_key!));
  const adapter = SafetensorsFile.open(join(dir, 'a.safetensors'));
  assert.deepEqual(adapter.metadata, { step: '10', method: 'npo', rank: '2', alpha: '2' });
  const samples = await ctx.db.sampleSet.findMany({ where: { job_id: id } });
  assert.deepEqual(samples.map((s) => [s.kind, s.status]), [['preview', 'succeeded']]);
  const grid = (samples[0].result as { grid: string }).grid;
  assert.equal((await ctx.storage.getBuffer(`${samples[0].s3_prefix}/${grid}`)).subarray(1, 4).toString(), 'PNG');

  // cost accounting: every phase the job went through is a priced usage row of this tenant, written by the time its run ended
  await runOver(id);
  const usage = await ctx.db.usageRecord.findMany({ where: { job_id: id }, orderBy: { id: 'asc' } });
  assert.deepEqual([...new Set(usage.map((u) => u.phase))], ['preparing', 'compiling', 'training', 'sampling']);
  for (const u of usage) {
    assert.equal(u.tenant_id, done.tenant_id);
    assert.deepEqual([u.device_kind, u.device_count, u.currency], ['cpu', 1, 'EUR']);
    assert.ok(u.seconds >= 0 && u.peak_rss_mb > 0);
    assert.ok(Math.abs(u.cost - u.seconds * 0.01) < 1e-12, `${u.phase}: ${u.cost} for ${u.seconds} s`);
    assert.ok(u.ended_at.getTime() <= done.finished_at!.getTime() + 1000);
  }
  // no validation prompts: the preview grid is the only sampling (one row: it takes well under a flush interval)
  assert.equal(usage.filter((u) => u.phase === 'sampling').length, 1);
  const total = usage.reduce((a, u) => a + u.seconds, 0);
  const wall = (done.finished_at!.getTime() - done.started_at!.getTime()) / 1000;
  assert.ok(total <= wall + 0.5, `${total} device-seconds counted in a job of ${wall} s`);
  // the job's usage (its API field) is the running total on its row: the sum of its rows
  const ran = await job(id);
  assert.equal(ran.usage_rows, usage.length);
  assert.deepEqual(jobUsage(ran), summarize(usage));
  assert.ok(jobUsage(ran).device_seconds.total > 0);
});

test('usage: a long phase is written every flush interval, so a crash loses at most one interval', async () => {
  const { UsageMeter } = await import('../../../packages/platform/src/usage/meter.ts');
  const tenantId = newId('ten');
  const jobId = newId('job');
  const meter = new UsageMeter({ db: ctx.db, priceTable: ctx.config.priceTable, deviceKind: 'cpu' }, { tenantId, jobId }, { flushMs: 100 });
  await meter.enter('training');
  await new Promise((r) => setTimeout(r, 450));
  const midway = await ctx.db.usageRecord.findMany({ where: { job_id: jobId } });
  assert.ok(midway.length >= 3, `${midway.length} rows after 4.5 intervals`);
  await meter.enter('cancelling'); // not a phase: counting stops
  await new Promise((r) => setTimeout(r, 250));
  const rows = await ctx.db.usageRecord.findMany({ where: { job_id: jobId } });
  await meter.stop();
  assert.equal((await ctx.db.usageRecord.count({ where: { job_id: jobId } })), rows.length, 'nothing is counted outside a phase');
  const seconds = rows.reduce((a, r) => a + r.seconds, 0);
  assert.ok(seconds > 0.4 && seconds < 0.6, `${seconds} s counted for 0.45 s of training`);
});

test('usage: validation prompts are metered as sampling at the checkpoints they sample, the others stay training', async () => {
  const { id } = await seedJob(ctx, { steps: 10, checkpoint_every: 2, lora_rank: 2 }, undefined, { prompts: ['a red square'], seeds: [0], every: 4 });
  await runOver(id);
  assert.equal((await job(id)).state, 'succeeded');
  const sets = await ctx.db.sampleSet.findMany({ where: { job_id: id }, orderBy: { created_at: 'asc' } });
  assert.deepEqual(sets.map((s) => [s.kind, s.checkpoint_step]), [['validation', 4], ['validation', 8], ['validation', 10], ['preview', null]]);
  const usage = await ctx.db.usageRecord.findMany({ where: { job_id: id }, orderBy: { id: 'asc' } });
  // one sampling row per sample set, each between training rows but the preview's (checkpoints 2 and 6 sample nothing)
  assert.deepEqual(usage.map((u) => u.phase).filter((p) => p !== 'preparing' && p !== 'compiling').join(' ').replace(/(training )+/g, 'training '),
    'training sampling training sampling training sampling training sampling');
});

test('a running job cancelled through Postgres + Redis stops within a step and keeps its checkpoints', async () => {
  const { id } = await seedJob(ctx, { steps: 5000, checkpoint_every: 5 });
  await waitFor('step 7', async () => (await job(id)).step >= 7);
  await ctx.db.job.update({ where: { id }, data: { state: 'cancelling' } }); // what the API does ...
  const stepAtCancel = (await job(id)).step;
  await ctx.bus.publish(Channels.cancel(ctx.config.redisKeyPrefix), { jobId: id }); // ... and announces
  const done = await waitFor('cancelled', async () => { const j = await job(id); return j.state === 'cancelled' && j; }, 5000);
  assert.ok(done.step <= stepAtCancel + 2, `stopped at step ${done.step}, cancel seen at ${stepAtCancel}`);
  assert.ok(done.finished_at);
  const cps = await ctx.db.checkpoint.findMany({ where: { job_id: id } });
  assert.ok(cps.some((c) => c.step === 5), 'the checkpoint written before the cancel is kept');
});

test('a cancel flag without the Redis message is still honoured at the next step', async () => {
  const { id } = await seedJob(ctx, { steps: 5000, checkpoint_every: 1000 });
  await waitFor('step 3', async () => (await job(id)).step >= 3);
  await ctx.db.job.update({ where: { id }, data: { state: 'cancelling' } });
  const done = await waitFor('cancelled', async () => { const j = await job(id); return j.state === 'cancelled' && j; }, 5000);
  assert.equal(done.state, 'cancelled');
  await worker?.close();
  worker = null;
});

test('kill -9 of the worker mid-training: the stalled job resumes from its last checkpoint, no step stored twice', async () => {
  const { id } = await seedJob(ctx, { steps: 30, checkpoint_every: 5 });
  const env = { ...process.env, ...ctx.env, SCRIPTED_STEP_MS: '60' };
  const spawnWorker = (): ChildProcess => spawn(process.execPath, ['--import', 'tsx', 'apps/worker/test/fixtures/scripted-worker.ts'], { env, stdio: ['ignore', 'pipe', 'inherit'], cwd: new URL('../../..', import.meta.url).pathname });
  const first = spawnWorker();
  await waitFor('a checkpoint and a few more steps', async () => (await job(id)).step >= 12, 30000);
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  const killedAt = (await job(id)).step;
  const second = spawnWorker();
  try {
    const done = await waitFor('success after restart', async () => { const j = await job(id); return ['succeeded', 'failed'].includes(j.state) && j; }, 45000);
    assert.equal(done.state, 'succeeded', done.error_message ?? '');
    assert.equal(done.attempts, 2);
    const resumed = await ctx.db.jobEvent.findMany({ where: { job_id: id, type: 'resumed' } });
    assert.equal(resumed.length, 1);
    const from = (resumed[0].data as { from_step: number }).from_step;
    assert.ok(from >= 10 && from <= killedAt, `resumed from ${from}, killed at ${killedAt}`);
    assert.equal(from % 5, 0);
    const metrics = await ctx.db.jobMetric.findMany({ where: { job_id: id }, orderBy: { step: 'asc' } });
    assert.deepEqual(metrics.map((m) => m.step), Array.from({ length: 30 }, (_, i) => i + 1));
    const cps = await ctx.db.checkpoint.findMany({ where: { job_id: id }, orderBy: { step: 'asc' } });
    assert.deepEqual(cps.map((c) => c.step), [5, 10, 15, 20, 25, 30]);
  } finally {
    second.kill('SIGKILL');
  }
});

test('prepared shards: published to S3 after encoding, reused from this disk next time, and published again if S3 lost them', async () => {
  if (!worker) await startInProcess();
  const first = await seedJob(ctx, { steps: 2 });
  await waitFor('first job', async () => (await job(first.id)).state === 'succeeded');
  const key = preparedCacheKey({ datasetId: first.dataset, modelId: first.model, resolution: 8 });
  assert.ok(await isPublished(ctx.storage, key));
  const preparation = (await job(first.id)).preparation;
  assert.deepEqual(preparation, { pairs_done: 4, pairs_total: 4, percent: 100, eta_seconds: 0, source: 'encoded' });

  await ctx.storage.deletePrefix(preparedPrefix(key));
  const row = await job(first.id);
  const second = newId('job');
  await ctx.db.job.create({ data: { id: second, tenant_id: first.tenant, model_id: first.model, dataset_id: first.dataset, method: 'npo', hyperparameters: row.hyperparameters as object, state: 'queued', total_steps: 2 } });
  await ctx.queues.train.add('train', { jobId: second }, { jobId: second });
  await waitFor('second job', async () => (await job(second)).state === 'succeeded');
  const prepared = await ctx.db.jobEvent.findMany({ where: { job_id: second, type: 'prepared' } });
  assert.deepEqual(prepared.map((e) => e.data), [{ pairs: 4, source: 'local' }]);
  assert.ok(await isPublished(ctx.storage, key), 'the local copy was uploaded again');
});
