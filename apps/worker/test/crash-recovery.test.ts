import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestContext, type TestContext } from '../../../packages/platform/src/testing.ts';
import { seedJob, waitFor } from './helpers.ts';

// Workers that die (out of memory, native crash: here a SIGKILL the scripted trainer sends itself at a named point)
// and a queue that gives up on a job: over real Postgres, Redis and S3, with worker processes like src/main.ts.
// MAX_STALLED_COUNT=1: the second loss of a job's worker makes BullMQ fail it ("job stalled more than allowable
// limit"), which the worker must settle instead of leaving the job `training`.
let ctx: TestContext;
before(async () => { ctx = await createTestContext('crash', { MAX_STALLED_COUNT: '1' }); });
after(async () => { await ctx.close(); });

const ROOT = new URL('../../..', import.meta.url).pathname;
const job = (id: string) => ctx.db.job.findUniqueOrThrow({ where: { id } });

/**
 * Starts scripted worker processes one after another (the next once the previous died) until the job ends;
 * returns the ended job and how many processes died.
 */
async function runUntilEnded(id: string, crash: { at: string; times: number }, whenEnded: () => Promise<unknown> = async () => {}) {
  const counter = join(ctx.config.dataDir, `crashes-${id}`);
  const env = { ...process.env, ...ctx.env, SCRIPTED_STEP_MS: '30', SCRIPTED_CRASH_AT: crash.at, SCRIPTED_CRASH_TIMES: String(crash.times), SCRIPTED_CRASH_COUNTER: counter };
  let deaths = 0;
  for (;;) {
    const w: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'apps/worker/test/fixtures/scripted-worker.ts'], { env, stdio: ['ignore', 'ignore', 'inherit'], cwd: ROOT });
    const exited = new Promise<void>((r) => w.once('exit', () => r()));
    let dead = false;
    void exited.then(() => (dead = true));
    const ended = await waitFor('the job to end or its worker to die', async () => {
      const j = await job(id);
      return ['succeeded', 'failed', 'cancelled'].includes(j.state) ? j : dead ? 'died' : null;
    }, 300000, 100);
    if (ended !== 'died') {
      await whenEnded();
      w.kill('SIGKILL');
      await exited;
      return { done: ended, deaths, counted: existsSync(counter) ? Number(readFileSync(counter, 'utf8')) : 0 };
    }
    deaths++;
    assert.ok(deaths <= 10, 'the job kept killing workers');
  }
}

test('a job that kills its worker at every start fails with worker_crashed, naming the dataset it was preparing', { timeout: 600000 }, async () => {
  const { id, dataset, model } = await seedJob(ctx, { steps: 10 });
  const { done, deaths } = await runUntilEnded(id, { at: 'prepare', times: 99 });
  assert.equal(deaths, 3);
  assert.equal(done.state, 'failed');
  assert.equal(done.error_code, 'worker_crashed');
  assert.match(done.error_message ?? '', new RegExp(`died 3 times in a row while preparing dataset ${dataset} .* for model ${model}`));
  const crashes = await ctx.db.jobEvent.findMany({ where: { job_id: id, type: 'worker_crashed' } });
  assert.deepEqual(crashes.map((e) => (e.data as { crashes: number }).crashes), [1, 2, 3]);
  assert.equal(done.attempts, 4);
});

test('a worker killed after checkpoints, and the queue failing the job for stalling: it is re-queued and succeeds, each step stored and announced once', { timeout: 600000 }, async () => {
  const { id } = await seedJob(ctx, { steps: 12, checkpoint_every: 4 });
  const folder = join(ctx.config.dataDir, 'work', 'jobs', id);
  const { done, deaths } = await runUntilEnded(id, { at: 'checkpoint', times: 2 }, () => waitFor("the job's folder removed", async () => !existsSync(folder)));
  assert.equal(deaths, 2);
  assert.equal(done.state, 'succeeded', done.error_message ?? '');
  assert.equal(done.crash_count, 0, 'every crash was followed by progress');
  const steps = await ctx.db.jobEvent.findMany({ where: { job_id: id, type: 'step' }, orderBy: { id: 'asc' } });
  assert.deepEqual(steps.map((e) => (e.data as { step: number }).step), Array.from({ length: 12 }, (_, i) => i + 1));
  const metrics = await ctx.db.jobMetric.findMany({ where: { job_id: id }, orderBy: { step: 'asc' } });
  assert.equal(metrics.length, 12);
  const resumed = await ctx.db.jobEvent.findMany({ where: { job_id: id, type: 'resumed' }, orderBy: { id: 'asc' } });
  assert.deepEqual(resumed.map((e) => (e.data as { from_step: number }).from_step), [4, 8]);
});

test('a worker that dies while rendering the sample grid: finalization resumes; after three deaths the job succeeds without a grid', { timeout: 600000 }, async () => {
  const { id } = await seedJob(ctx, { steps: 4, checkpoint_every: 2 });
  const { done, deaths } = await runUntilEnded(id, { at: 'render', times: 99 });
  assert.equal(deaths, 3);
  assert.equal(done.state, 'succeeded', done.error_message ?? '');
  assert.equal(done.final_adapter_key, `jobs/${id}/checkpoints/step-4/adapter_model.safetensors`);
  assert.equal(await ctx.db.sampleSet.count({ where: { job_id: id, kind: 'preview', status: 'succeeded' } }), 0);
  assert.equal(await ctx.db.sampleSet.count({ where: { job_id: id, status: 'running' } }), 0, 'the dead runs\' preview sets were ended');
  const resumed = await ctx.db.jobEvent.findMany({ where: { job_id: id, type: 'resumed' } });
  assert.ok(resumed.length >= 3 && resumed.every((e) => (e.data as { finalizing?: boolean }).finalizing), JSON.stringify(resumed.map((e) => e.data)));
  const failedGrid = await ctx.db.jobEvent.findMany({ where: { job_id: id, type: 'sample_failed' } });
  assert.equal(failedGrid.length, 1);
  const metrics = await ctx.db.jobMetric.count({ where: { job_id: id } });
  assert.equal(metrics, 4, 'finalization did not train again');
});

test('one death while rendering: the resumed finalization renders the grid once and stores one sample row', { timeout: 600000 }, async () => {
  const { id } = await seedJob(ctx, { steps: 4, checkpoint_every: 2 });
  const { done, deaths } = await runUntilEnded(id, { at: 'render', times: 1 });
  assert.equal(deaths, 1);
  assert.equal(done.state, 'succeeded', done.error_message ?? '');
  assert.equal(await ctx.db.sampleSet.count({ where: { job_id: id, kind: 'preview', status: 'succeeded' } }), 1);
  assert.equal(await ctx.db.sampleSet.count({ where: { job_id: id, status: 'running' } }), 0);
  assert.equal(await ctx.db.jobEvent.count({ where: { job_id: id, type: 'sample' } }), 1);
});
