import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Backoffs } from 'bullmq';
import { createTestContext, type TestContext } from '../../../packages/platform/src/testing.ts';
import { DEFAULT_JOB_OPTIONS } from '../../../packages/platform/src/queues.ts';
import type { QueueJob } from '@npo/platform';
import type { TrainPayload } from '@npo/contracts';
import { CancelRegistry } from '../src/cancellation.ts';
import { JobRecord } from '../src/job-record.ts';
import { RunSupersededError } from '../src/run-errors.ts';
import { trainJob } from '../src/processors/train.ts';
import { settleFailedQueueJob } from '../src/settle.ts';
import { scriptedTrainer, refuseDatasets } from './fixtures/scripted-trainer.ts';
import { seedJob, waitFor } from './helpers.ts';
import type { WorkerDeps } from '../src/deps.ts';

// Compare-and-set state changes and fencing tokens over real Postgres, Redis and S3: a cancel landing between the
// worker's read and its write, and two copies of one job, must not both write.
let ctx: TestContext;
let cancels: CancelRegistry;
before(async () => {
  ctx = await createTestContext('fencing');
  cancels = new CancelRegistry(ctx.bus, ctx.config.redisKeyPrefix);
  await cancels.start();
});
after(async () => {
  await cancels.stop();
  await ctx.close();
});

const deps = (over: Partial<WorkerDeps> = {}): WorkerDeps => ({ ...ctx, trainer: scriptedTrainer, validateDataset: refuseDatasets, ...over });
const queueJob = (jobId: string) => ({ data: { jobId }, attemptsMade: 0, opts: { attempts: 8 } }) as unknown as QueueJob<TrainPayload>;
const job = (id: string) => ctx.db.job.findUniqueOrThrow({ where: { id } });

test('a cancel that lands between the worker reading a queued job and moving it on: the job never trains and gets no adapter', async () => {
  const { id } = await seedJob(ctx, { steps: 6, checkpoint_every: 3 });
  await ctx.queues.train.remove(id);
  // the API's cancel of a queued job, run right after the worker's first read of the row
  let raced = false;
  const db = ctx.db.$extends({
    query: {
      job: {
        async findUnique({ args, query }) {
          const row = await query(args);
          if (!raced && args.where.id === id) {
            raced = true;
            await ctx.db.job.updateMany({ where: { id, state: 'queued' }, data: { state: 'cancelled', finished_at: new Date() } });
          }
          return row;
        },
      },
    },
  }) as unknown as WorkerDeps['db'];
  await trainJob({ ...deps({ db }), cancels }, queueJob(id));
  const done = await job(id);
  assert.ok(raced);
  assert.equal(done.state, 'cancelled');
  assert.equal(done.final_adapter_key, null);
  assert.equal(await ctx.db.jobMetric.count({ where: { job_id: id } }), 0);
  assert.equal(await ctx.db.checkpoint.count({ where: { job_id: id } }), 0);
});

test('a cancel during the last steps: a job that is cancelling never ends succeeded and never gets its adapter', async () => {
  const { id } = await seedJob(ctx, { steps: 3, checkpoint_every: 100 });
  await ctx.queues.train.remove(id);
  // the API's cancel of a running job, landing when the final checkpoint is being handed over
  const trainer = {
    ...scriptedTrainer,
    trainAdapter: (o: Parameters<typeof scriptedTrainer.trainAdapter>[0]) => scriptedTrainer.trainAdapter({
      ...o,
      onCheckpoint: async (c) => {
        await ctx.db.job.updateMany({ where: { id, state: { in: ['preparing', 'compiling', 'training'] } }, data: { state: 'cancelling' } });
        await o.onCheckpoint?.(c);
      },
    }),
  };
  await trainJob({ ...deps({ trainer }), cancels }, queueJob(id));
  const done = await job(id);
  assert.equal(done.state, 'cancelled');
  assert.equal(done.final_adapter_key, null);
  assert.equal(await ctx.db.checkpoint.count({ where: { job_id: id, final: true } }), 0);
  assert.equal(await ctx.db.sampleSet.count({ where: { job_id: id, kind: 'preview' } }), 0);
});

test('a step replayed after a resume is announced once, also when the run that stored its metric died before announcing it', async () => {
  const { id } = await seedJob(ctx, { steps: 10, checkpoint_every: 5 });
  await ctx.queues.train.remove(id);
  const rec = new JobRecord(deps(), id);
  assert.equal((await rec.claim()).run, true);
  await rec.advance('training');
  const m = (step: number) => ({ step, total_steps: 10, loss: 0.5, implicit_acc: 0.5, lr: 1e-4, grad_norm: 1, step_ms: 10, peak_rss_mb: 100 });
  await rec.step(m(6));
  // the dead run: step 7's metric committed, the process killed before its event was written
  await ctx.db.jobMetric.create({ data: { job_id: id, step: 7, loss: 0.5, implicit_acc: 0.5, grad_norm: 1, lr: 1e-4, step_ms: 10 } });
  for (const step of [6, 7, 7, 8]) await rec.step(m(step)); // the resumed run replays 6 and 7
  const events = await ctx.db.jobEvent.findMany({ where: { job_id: id, type: 'step' }, orderBy: { id: 'asc' } });
  assert.deepEqual(events.map((e) => (e.data as { step: number }).step), [6, 7, 8]);
  assert.equal(await ctx.db.jobMetric.count({ where: { job_id: id } }), 3);
});

test('two copies of one job: the newer claim fences the older run, which stops without another write', async () => {
  const { id } = await seedJob(ctx, { steps: 400, checkpoint_every: 5 });
  await ctx.queues.train.remove(id);
  const first = trainJob({ ...deps(), cancels }, queueJob(id));
  await waitFor('the first copy training', async () => (await job(id)).step >= 6);
  const second = new JobRecord(deps(), id);
  const claim = await second.claim(); // what a second copy does first (a lost lock handed the job over)
  assert.ok(claim.run);
  const result = await first;
  assert.deepEqual(result, { state: 'superseded' });
  const after = await job(id);
  assert.equal(after.run_token, claim.run && claim.token);
  assert.equal(after.state, 'training', 'the older copy neither cancelled nor failed the job');
  assert.ok(after.attempt_open, 'the newer copy still holds the attempt');
  const stepAtClaim = after.step;
  const metrics = await ctx.db.jobMetric.count({ where: { job_id: id } });
  assert.equal(metrics, stepAtClaim, 'no step was stored after the newer claim');
  // the newer copy's writes apply; the older token's are refused
  assert.equal(await second.step({ step: stepAtClaim + 1, total_steps: 400, loss: 0.5, implicit_acc: 0.5, grad_norm: 1, lr: 1e-4, step_ms: 1, peak_rss_mb: 100 }), 'training');
  const stale = new JobRecord(deps(), id);
  await stale.claim();
  await assert.rejects(second.checkpoint({ step: 10, prefix: 'x', files: [], final: true }), RunSupersededError);
  await assert.rejects(second.finish('succeeded'), RunSupersededError);
  assert.equal((await job(id)).final_adapter_key, null);
});

test('a training job the queue failed (stalled too often) is re-queued; one that ran too often is failed; a stuck validation ends invalid', async () => {
  const { id, dataset } = await seedJob(ctx, { steps: 2 });
  await ctx.queues.train.remove(id);
  await ctx.db.job.update({ where: { id }, data: { state: 'training', attempt_open: true } });
  assert.equal(await settleFailedQueueJob(deps(), 'train', id, 'job stalled more than allowable limit'), 'requeued');
  assert.ok(await ctx.queues.train.getJob(id), 'a queue entry exists again');
  await ctx.queues.train.remove(id);
  await ctx.db.job.update({ where: { id }, data: { attempts: 25, activity: 'training model m' } });
  assert.equal(await settleFailedQueueJob(deps(), 'train', id, 'job stalled more than allowable limit'), 'ended');
  const failed = await job(id);
  assert.equal(failed.state, 'failed');
  assert.equal(failed.error_code, 'worker_crashed');
  assert.match(failed.error_message!, /run 25 times .*last: training model m.*stalled more than allowable limit/);

  await ctx.db.dataset.update({ where: { id: dataset }, data: { status: 'validating' } });
  assert.equal(await settleFailedQueueJob(deps(), 'datasets', dataset, 'invalid byte sequence \u0000 in path'), 'ended');
  const ds = await ctx.db.dataset.findUniqueOrThrow({ where: { id: dataset } });
  assert.equal(ds.status, 'invalid');
  const report = ds.report as { error: string; format: string; warnings: Record<string, unknown>; valid: boolean };
  assert.match(report.error, /validation did not finish: invalid byte sequence \uFFFD in path/);
  // the shape of every other dataset report (unfinishedValidationReport)
  assert.equal(report.format, ds.format);
  assert.equal(report.valid, false);
  assert.deepEqual(report.warnings, { prompt_truncated: 0, prompt_over_long: 0, prompt_over_long_rows: [] });
});

test('retries back off over more than five minutes, so a 30-second outage of Redis, Postgres or S3 fails no job', async () => {
  let waited = 0;
  for (let attempt = 1; attempt < DEFAULT_JOB_OPTIONS.attempts; attempt++) {
    waited += Number(await Backoffs.calculate(DEFAULT_JOB_OPTIONS.backoff, attempt, new Error('outage'), {} as never));
  }
  assert.ok(waited >= 5 * 60 * 1000, `retries span ${waited / 1000} s`);
});
