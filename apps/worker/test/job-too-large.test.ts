import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, type Stack } from './fixtures/e2e-stack.ts';

// A worker whose MEMORY_BUDGET_MB is below what even one fully checkpointed step of the built-in tiny-sd needs: the
// job fails before its dataset is prepared with job_too_large (not retried), its message naming the estimate, the
// budget and what to lower. The API and the worker run as separate processes over real Postgres, Redis and S3, with
// the real trainer (e2e-stack.ts, with the budget set for both).
const LONG = 3 * 60 * 1000;

let s: Stack;

before(async () => {
  s = await startStack('toolarge', { env: { MEMORY_BUDGET_MB: '100' } });
});
after(async () => {
  await s?.stop();
});

test('a job over the worker\'s memory budget fails before preparation with job_too_large, the estimate, the budget and the setting to lower', { timeout: LONG }, async () => {
  const { id } = await s.createJob({ hyperparameters: { steps: 2, batch_pairs: 2, lora_rank: 4 } });
  const job = await s.until(id, ['succeeded', 'failed', 'cancelled'], LONG);
  assert.equal(job.state, 'failed');
  assert.equal(job.error.code, 'job_too_large');
  assert.match(job.error.message, /^one training step needs an estimated \d+ MB even with every block checkpointed; the worker's memory budget is 100 MB \(MEMORY_BUDGET_MB\): even batch_pairs 1 does not fit: lower resolution \(now 16\)$/);
  const events: { type: string; data: Record<string, unknown> }[] = (await s.get(`/v1/jobs/${id}/events?limit=200`)).data;
  const states = events.filter((e) => e.type === 'state').map((e) => e.data.state);
  assert.deepEqual(states, ['queued', 'failed'], 'refused once, before preparation: not retried');
  assert.ok(!events.some((e) => e.type === 'prepared' || e.type === 'memory_checked'), JSON.stringify(events.map((e) => e.type)));
  assert.deepEqual((await s.get(`/v1/jobs/${id}/metrics`)).data, []);
  assert.deepEqual((await s.get(`/v1/jobs/${id}/checkpoints`)).data, []);
});
