import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiKey } from '@npo/platform';
import { PROMPTS, Rng, renderShape, sampleScene } from '@npo/shapes';
import { writePairsZip, type PreferencePair } from '../../../packages/shapes/src/lab/preferences.ts';
import { SafetensorsFile } from '../../../packages/graph/src/safetensors.ts';
import { createTestContext, type TestContext } from '../../../packages/platform/src/testing.ts';
import { waitFor } from './helpers.ts';
import { spawnEntry, startApi } from './fixtures/e2e-stack.ts';

// End to end with the real trainer on the built-in tiny-sd: the API and a worker run as separate processes
// (src/server.ts, src/main.ts) over real Postgres, Redis and S3; the dataset is rendered shapes (the right
// colour preferred over a wrong one).
const ROOT = new URL('../../..', import.meta.url).pathname;
const UNET = join(ROOT, 'models/tiny-sd/unet/diffusion_pytorch_model.safetensors');
const LONG = 3 * 60 * 1000;

let ctx: TestContext;
let api: ChildProcess;
let worker: ChildProcess;
let base: string;
let key: string;
let env: NodeJS.ProcessEnv;
let datasetId: string;
const scratch = mkdtempSync(join(tmpdir(), 'npo-e2e-'));

const start = (entry: string) => spawnEntry(entry, env, process.env.E2E_WORKER_LOG ? 'inherit' : 'ignore');
const headers = () => ({ authorization: `Bearer ${key}` });
const get = async (path: string) => (await fetch(`${base}${path}`, { headers: headers() })).json();
const getJob = (id: string) => get(`/v1/jobs/${id}`);
const until = (id: string, states: string[], timeout = LONG) => waitFor(`job ${id} in ${states}`, async () => { const j = await getJob(id); return states.includes(j.state) && j; }, timeout, 200);

before(async () => {
  assert.ok(existsSync(UNET), `${UNET} is missing: build tiny-sd first (npm run build:tiny-sd)`);
  ctx = await createTestContext('e2e', { BUILTIN_MODELS_DIR: join(ROOT, 'models'), LOCK_DURATION_MS: '5000' });
  key = (await createApiKey(ctx.db, 'e2e')).key;
  env = { ...process.env, ...ctx.env };
  worker = start('apps/worker/src/main.ts');
  ({ api, base, env } = await startApi(env));
  await waitFor('tiny-sd registered', async () => (await ctx.db.model.findUnique({ where: { id: 'tiny-sd' } }))?.status === 'ready', 60000, 200);
  datasetId = await readyDataset();
});
after(async () => {
  api?.kill('SIGKILL');
  worker?.kill('SIGKILL');
  await ctx?.close();
});

/** 12 pairs of rendered shapes: each prompt's shape in its own colour preferred to the same scene in another. */
async function shapesZip(): Promise<Buffer> {
  const rng = new Rng(7, 0);
  const pairs: PreferencePair[] = PROMPTS.map((_, p) => {
    const scene = sampleScene(rng, p);
    const wrong = PROMPTS[(p + 3) % PROMPTS.length].colour;
    return { prompt: p, images: [renderShape(scene), renderShape({ ...scene, colour: wrong })], rewards: [1, 0] };
  });
  const file = join(scratch, 'pairs.zip');
  await writePairsZip(file, pairs, 'reward');
  return readFileSync(file);
}

async function readyDataset(): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(await shapesZip())]), 'pairs.zip');
  const res = await fetch(`${base}/v1/datasets`, { method: 'POST', body: form, headers: headers() });
  assert.equal(res.status, 202);
  const id = (await res.json()).id;
  const ds = await waitFor('dataset validated', async () => { const d = await get(`/v1/datasets/${id}`); return d.status !== 'validating' && d; }, 60000, 200);
  assert.equal(ds.status, 'ready', JSON.stringify(ds.report));
  assert.equal(ds.report.pairs_kept, 12);
  return id;
}

async function createJob(hyperparameters: Record<string, number>) {
  const body = { model: 'tiny-sd', dataset: datasetId, method: 'npo', hyperparameters: { batch_pairs: 2, learning_rate: 1e-4, lora_rank: 4, warmup_steps: 0, ...hyperparameters } };
  const res = await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { ...headers(), 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const created = await res.json();
  assert.equal(res.status, 201, JSON.stringify(created));
  return created as { id: string; hyperparameters: Record<string, number> };
}

const steps = (n: number, from = 1) => Array.from({ length: n - from + 1 }, (_, i) => i + from);

test('key → upload → validation → job on tiny-sd → checkpoints → download → PEFT adapter with metadata', { timeout: LONG }, async () => {
  const created = await createJob({ steps: 6, checkpoint_every: 2 });
  assert.equal(created.hyperparameters.resolution, 16, 'a pixel-space model trains at its UNet sample size');
  const job = await until(created.id, ['succeeded', 'failed']);
  assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
  assert.equal(job.progress.step, 6);
  const states = (await get(`/v1/jobs/${created.id}/events?limit=200`)).data.filter((e: { type: string }) => e.type === 'state').map((e: { data: { state: string } }) => e.data.state);
  assert.deepEqual(states, ['queued', 'preparing', 'compiling', 'training', 'succeeded']);
  const prepared = (await get(`/v1/jobs/${created.id}/events?limit=200`)).data.filter((e: { type: string }) => e.type === 'prepared');
  assert.deepEqual(prepared.map((e: { data: unknown }) => e.data), [{ pairs: 12, source: 'encoded' }]);
  assert.deepEqual(job.progress.preparation, { pairs_done: 12, pairs_total: 12, percent: 100, eta_seconds: 0, source: 'encoded' });
  // sized against the worker's budget before preparation: the plan it compiles with and that plan's estimate
  const checked = (await get(`/v1/jobs/${created.id}/events?limit=200`)).data.filter((e: { type: string }) => e.type === 'memory_checked').map((e: { data: unknown }) => e.data);
  assert.equal(checked.length, 1, JSON.stringify(checked));
  assert.ok(checked[0].plan === 'keep' && checked[0].estimate_mb > 0 && checked[0].estimate_mb <= checked[0].budget_mb, JSON.stringify(checked));
  assert.ok((await ctx.storage.list('prepared/')).some((k) => k.endsWith('/manifest.json')), 'the prepared shards are published to S3');
  const cps = (await get(`/v1/jobs/${created.id}/checkpoints`)).data;
  assert.deepEqual(cps.map((c: { step: number; final: boolean }) => [c.step, c.final]), [[2, false], [4, false], [6, true]]);
  const metrics = (await get(`/v1/jobs/${created.id}/metrics`)).data;
  assert.deepEqual(metrics.map((m: { step: number }) => m.step), steps(6));
  for (const m of metrics) assert.ok(Number.isFinite(m.loss) && m.loss > 0 && m.implicit_acc >= 0 && m.implicit_acc <= 1, JSON.stringify(m));
  // each step's time and the training process's peak resident set so far, in the series and the job's latest metrics
  for (const m of metrics) assert.ok(m.step_ms > 0 && typeof m.peak_rss_mb === 'number' && m.peak_rss_mb > 0, JSON.stringify(m));
  assert.equal(job.metrics.step, 6);
  assert.equal(job.metrics.peak_rss_mb, metrics[5].peak_rss_mb);
  const stepEvents = (await get(`/v1/jobs/${created.id}/events?limit=200`)).data.filter((e: { type: string }) => e.type === 'step');
  assert.deepEqual(stepEvents.map((e: { data: { peak_rss_mb: number } }) => e.data.peak_rss_mb), metrics.map((m: { peak_rss_mb: number }) => m.peak_rss_mb));

  const redirect = await fetch(`${base}/v1/jobs/${created.id}/checkpoints/6/download`, { headers: headers(), redirect: 'manual' });
  assert.equal(redirect.status, 302);
  const file = join(scratch, 'adapter.safetensors');
  writeFileSync(file, Buffer.from(await (await fetch(redirect.headers.get('location')!)).arrayBuffer()));
  const adapter = SafetensorsFile.open(file);
  const names = [...adapter.tensors.keys()];
  assert.ok(names.length > 0 && names.every((n) => /^unet\..+\.lora_[AB]\.weight$/.test(n)), names.slice(0, 4).join(','));
  for (const target of ['to_q', 'to_k', 'to_v', 'to_out.0']) assert.ok(names.some((n) => n.includes(`.${target}.lora_A.weight`)), `no LoRA on ${target}`);
  const a = names.find((n) => n.endsWith('lora_A.weight'))!;
  assert.equal(adapter.entry(a).shape[0], 4, 'lora_A is [rank, in]');
  const meta = adapter.metadata;
  assert.equal(meta.method, 'npo');
  assert.equal(meta.rank, '4');
  assert.equal(meta.alpha, '4');
  assert.equal(meta.step, '6');
  assert.equal(meta.base_model_sha256, createHash('sha256').update(readFileSync(UNET)).digest('hex'));
  const samples = (await get(`/v1/jobs/${created.id}/samples`)).data;
  assert.equal(samples.length, 1);
});

test('cancelling a running real job stops it and keeps its last checkpoint', { timeout: LONG }, async () => {
  const { id } = await createJob({ steps: 5000, checkpoint_every: 2 });
  await waitFor('a checkpoint and more steps', async () => (await getJob(id)).progress.step >= 3, LONG, 100);
  const res = await fetch(`${base}/v1/jobs/${id}/cancel`, { method: 'POST', headers: headers() });
  assert.equal(res.status, 200);
  const job = await until(id, ['cancelled', 'failed', 'succeeded'], 60000);
  assert.equal(job.state, 'cancelled');
  assert.ok(job.progress.step < 5000);
  const cps = (await get(`/v1/jobs/${id}/checkpoints`)).data;
  assert.ok(cps.length >= 1 && cps.every((c: { final: boolean }) => !c.final), JSON.stringify(cps));
  const last = Math.max(...cps.map((c: { step: number }) => c.step));
  assert.ok(last >= 2 && last % 2 === 0);
  const redirect = await fetch(`${base}/v1/jobs/${id}/checkpoints/${last}/download`, { headers: headers(), redirect: 'manual' });
  assert.equal(redirect.status, 302);
  const bytes = Buffer.from(await (await fetch(redirect.headers.get('location')!)).arrayBuffer());
  writeFileSync(join(scratch, 'cancelled.safetensors'), bytes);
  assert.equal(SafetensorsFile.open(join(scratch, 'cancelled.safetensors')).metadata.step, String(last));
});

// three worker starts, each compiling again: more time than the others
test('kill -9 of the worker mid-training and again during finalization: it resumes each time and succeeds with no duplicate steps or samples', { timeout: 3 * LONG }, async () => {
  const { id } = await createJob({ steps: 16, checkpoint_every: 4 });
  await waitFor('a checkpoint and more steps', async () => (await getJob(id)).progress.step >= 6, LONG, 50);
  worker.kill('SIGKILL');
  await new Promise((r) => worker.once('exit', r));
  const killedAt = (await getJob(id)).progress.step;
  worker = start('apps/worker/src/main.ts');
  // the final checkpoint is stored and the sample grid is being rendered: kill again
  const rendering = await waitFor('finalization', async () => { const j = await ctx.db.job.findUniqueOrThrow({ where: { id } }); return (j.activity?.startsWith('rendering') || j.state === 'succeeded') && j; }, 2 * LONG, 10);
  worker.kill('SIGKILL');
  await new Promise((r) => worker.once('exit', r));
  assert.equal(rendering.state, 'training', 'killed during finalization, before the job ended');
  worker = start('apps/worker/src/main.ts');
  const job = await until(id, ['succeeded', 'failed'], 2 * LONG);
  assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
  const events = (await get(`/v1/jobs/${id}/events?limit=200`)).data;
  const resumed = events.filter((e: { type: string }) => e.type === 'resumed');
  assert.equal(resumed.length, 2);
  const from = resumed[0].data.from_step;
  assert.ok(from >= 4 && from <= killedAt && from % 4 === 0, `resumed from ${from}, killed at ${killedAt}`);
  assert.deepEqual(resumed[1].data, { from_step: 16, finalizing: true });
  assert.deepEqual(events.filter((e: { type: string }) => e.type === 'step').map((e: { data: { step: number } }) => e.data.step), steps(16), 'each step announced once');
  const metrics = (await get(`/v1/jobs/${id}/metrics`)).data;
  assert.deepEqual(metrics.map((m: { step: number }) => m.step), steps(16));
  const cps = (await get(`/v1/jobs/${id}/checkpoints`)).data;
  assert.deepEqual(cps.map((c: { step: number }) => c.step), [4, 8, 12, 16]);
  // one preview grid rendered and stored; the one the killed worker was rendering ended `failed`, none left running
  const sets = (await get(`/v1/jobs/${id}/samples`)).data as { kind: string; status: string }[];
  assert.equal(sets.filter((x) => x.kind === 'preview' && x.status === 'succeeded').length, 1, JSON.stringify(sets));
  assert.ok(sets.every((x) => x.status !== 'running'), JSON.stringify(sets));
});

// Not yet seen passing on the shared development machine (its API never got ready under load there): opt in with
// NPO_E2E_SIGTERM=1 until it has run green once. trainer's train-adapter.test.ts covers the checkpoint-on-suspend part.
test('SIGTERM mid-training: the worker checkpoints the step it reached at once, hands the job back and exits; another worker resumes it with no step lost or repeated', { skip: !process.env.NPO_E2E_SIGTERM && 'set NPO_E2E_SIGTERM=1', timeout: LONG }, async () => {
  // checkpoint_every beyond the run: the only checkpoint before the end is the one SIGTERM asks for
  const { id } = await createJob({ steps: 120, checkpoint_every: 1000 });
  await waitFor('a few steps', async () => (await getJob(id)).progress.step >= 3, LONG, 50);
  const signalledAt = (await getJob(id)).progress.step;
  worker.kill('SIGTERM');
  // the pod's terminationGracePeriodSeconds is the bound the worker must exit within
  const grace = Number(/terminationGracePeriodSeconds: (\d+)/.exec(readFileSync(join(ROOT, 'infra/worker-gpu.yaml'), 'utf8'))![1]);
  const exit = await waitFor('the worker to exit', async () => (worker.exitCode !== null || worker.signalCode !== null) && { code: worker.exitCode, signal: worker.signalCode }, grace * 1000, 100);
  assert.deepEqual(exit, { code: 0, signal: null });
  const stoppedAt = (await getJob(id)).progress.step;
  assert.ok(stoppedAt >= signalledAt && stoppedAt < 120, `signalled at ${signalledAt}, stopped at ${stoppedAt}`);
  const cps = (await get(`/v1/jobs/${id}/checkpoints`)).data;
  assert.deepEqual(cps.map((c: { step: number }) => c.step), [stoppedAt], 'a checkpoint of the last step reached: less than one step lost');
  assert.equal(await (await ctx.queues.train.getJob(id))!.getState(), 'waiting', 'released to the queue, not left to stall');
  worker = start('apps/worker/src/main.ts');
  const job = await until(id, ['succeeded', 'failed']);
  assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
  const events = (await get(`/v1/jobs/${id}/events?limit=200`)).data;
  assert.deepEqual(events.filter((e: { type: string }) => e.type === 'released').map((e: { data: unknown }) => e.data), [{ step: stoppedAt, reason: 'worker shutdown' }]);
  assert.deepEqual(events.filter((e: { type: string }) => e.type === 'resumed').map((e: { data: unknown }) => e.data), [{ from_step: stoppedAt }]);
  const metrics = (await get(`/v1/jobs/${id}/metrics`)).data;
  assert.deepEqual(metrics.map((m: { step: number }) => m.step), steps(120));
});

test('a worker on an empty disk trains from the shards another worker published to S3', { timeout: LONG }, async () => {
  worker.kill('SIGKILL');
  await new Promise((r) => worker.once('exit', r));
  env = { ...env, DATA_DIR: mkdtempSync(join(tmpdir(), 'npo-e2e-fresh-disk-')) };
  worker = start('apps/worker/src/main.ts');
  const { id } = await createJob({ steps: 2, checkpoint_every: 2 });
  const job = await until(id, ['succeeded', 'failed']);
  assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
  const prepared = (await get(`/v1/jobs/${id}/events?limit=200`)).data.filter((e: { type: string }) => e.type === 'prepared');
  assert.deepEqual(prepared.map((e: { data: unknown }) => e.data), [{ pairs: 12, source: 's3' }]);
  assert.equal(job.progress.preparation.source, 's3');
});

// Restarting the shared Redis disturbs everyone using it: opt in with NPO_E2E_RESTART_REDIS=1.
test('Redis restarted mid-job: the job still finishes and nothing accepted is lost', { skip: !process.env.NPO_E2E_RESTART_REDIS && 'set NPO_E2E_RESTART_REDIS=1', timeout: LONG }, async () => {
  const { id } = await createJob({ steps: 12, checkpoint_every: 4 });
  await waitFor('training', async () => (await getJob(id)).progress.step >= 2, LONG, 100);
  execFileSync('redis-cli', ['shutdown', 'save']);
  execFileSync('bash', [join(ROOT, 'scripts/services.sh')]);
  const job = await until(id, ['succeeded', 'failed']);
  assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
  const metrics = (await get(`/v1/jobs/${id}/metrics`)).data;
  assert.deepEqual(metrics.map((m: { step: number }) => m.step), steps(12));
});

// Restarting the shared Postgres disturbs everyone using it: opt in with NPO_E2E_RESTART_POSTGRES=1.
test('Postgres restarted mid-job: the job still finishes and no step is lost or stored twice', { skip: !process.env.NPO_E2E_RESTART_POSTGRES && 'set NPO_E2E_RESTART_POSTGRES=1', timeout: LONG }, async () => {
  const { id } = await createJob({ steps: 40, checkpoint_every: 4 });
  await waitFor('training', async () => (await getJob(id)).progress.step >= 6, LONG, 100);
  execFileSync('bash', ['-c', 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main restart']);
  const job = await waitFor(`job ${id} to end`, async () => {
    try {
      const j = await getJob(id);
      return ['succeeded', 'failed'].includes(j.state) && j;
    } catch {
      return false; // the API answers 5xx while Postgres is down
    }
  }, LONG, 500);
  assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
  const metrics = (await get(`/v1/jobs/${id}/metrics?limit=200`)).data;
  assert.deepEqual(metrics.map((m: { step: number }) => m.step), steps(40));
});
