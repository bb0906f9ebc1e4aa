import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createApiKey } from '@npo/platform';
import { createTestContext, type TestContext } from '../../../packages/platform/src/testing.ts';
import { tinyPairsZip, waitFor } from './helpers.ts';

// A worker whose MEMORY_BUDGET_MB is below what even one fully checkpointed step of the built-in tiny-sd needs: the
// job fails before compiling with job_too_large (not retried), its message naming the estimate, the budget and what to
// lower. The API and the worker run as separate processes over real Postgres, Redis and S3, with the real trainer.
const ROOT = new URL('../../..', import.meta.url).pathname;
const LONG = 3 * 60 * 1000;

let ctx: TestContext;
let api: ChildProcess;
let worker: ChildProcess;
let base: string;
let key: string;

before(async () => {
  ctx = await createTestContext('toolarge', { BUILTIN_MODELS_DIR: join(ROOT, 'models'), MEMORY_BUDGET_MB: '100' });
  const port = 20000 + Math.floor(Math.random() * 20000);
  const env = { ...process.env, ...ctx.env, PORT: String(port) };
  base = `http://127.0.0.1:${port}`;
  key = (await createApiKey(ctx.db, 'toolarge')).key;
  const start = (entry: string) => spawn(process.execPath, ['--import', 'tsx', entry], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] });
  api = start('apps/api/src/server.ts');
  worker = start('apps/worker/src/main.ts');
  await waitFor('API ready', async () => { try { return (await fetch(`${base}/readyz`)).ok; } catch { return false; } }, 60000, 200);
  await waitFor('tiny-sd registered', async () => (await ctx.db.model.findUnique({ where: { id: 'tiny-sd' } }))?.status === 'ready', 60000, 200);
});
after(async () => {
  api?.kill('SIGKILL');
  worker?.kill('SIGKILL');
  await ctx?.close();
});

test('a job over the worker\'s memory budget fails before compiling with job_too_large, the estimate, the budget and the setting to lower', { timeout: LONG }, async () => {
  const headers = { authorization: `Bearer ${key}` };
  const get = async (path: string) => (await fetch(`${base}${path}`, { headers })).json();
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(await tinyPairsZip(8))]), 'pairs.zip');
  const uploaded = await fetch(`${base}/v1/datasets`, { method: 'POST', body: form, headers });
  assert.equal(uploaded.status, 202);
  const datasetId = (await uploaded.json()).id;
  await waitFor('dataset ready', async () => (await get(`/v1/datasets/${datasetId}`)).status === 'ready', 60000, 200);

  const body = { model: 'tiny-sd', dataset: datasetId, method: 'npo', hyperparameters: { steps: 2, batch_pairs: 2, lora_rank: 4 } };
  const res = await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 201);
  const { id } = await res.json();
  const job = await waitFor(`job ${id} ended`, async () => { const j = await get(`/v1/jobs/${id}`); return ['succeeded', 'failed', 'cancelled'].includes(j.state) && j; }, LONG, 200);
  assert.equal(job.state, 'failed');
  assert.equal(job.error.code, 'job_too_large');
  assert.match(job.error.message, /^one training step needs an estimated \d+ MB even with every block checkpointed; the worker's memory budget is 100 MB \(MEMORY_BUDGET_MB\): even batch_pairs 1 does not fit: lower resolution \(now 16\)$/);
  const states = (await get(`/v1/jobs/${id}/events?limit=200`)).data.filter((e: { type: string }) => e.type === 'state').map((e: { data: { state: string } }) => e.data.state);
  assert.deepEqual(states, ['queued', 'preparing', 'compiling', 'failed'], 'refused once, before training: not retried');
  assert.deepEqual((await get(`/v1/jobs/${id}/metrics`)).data, []);
  assert.deepEqual((await get(`/v1/jobs/${id}/checkpoints`)).data, []);
});
