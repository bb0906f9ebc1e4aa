// `npm run demo`: the whole service on the built-in tiny-sd, then what the adapter does to sampling.
//   npm run demo -- [--steps N] [--dataset PATH]      (default dataset: datasets/shapes-preferences.zip,
//                                                       or NPO_DEMO_DATASET)
// Sets up the database and built-in models as `npm start` does, starts the API and one worker as child processes on
// a free port, creates a key, uploads the shapes preference set, trains an NPO LoRA through the API, downloads it, and
// samples plain CFG (A) vs NPO-CFG (B) from the same noise, scored by the shapes-world reward. The last line printed
// is the path of the side-by-side PNG.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, openAsBlob } from 'node:fs';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { sha256File } from '@npo/contracts';
import { loadLora } from '@npo/diffusion';
import { SafetensorsFile } from '@npo/graph';
import { createApiKey, createDb, createLogger, freePort, loadConfig, setupServices, REPO_ROOT } from '@npo/platform';
import { IMAGE_LENGTH, PROMPTS, rewardBatch, writePngGrid } from '@npo/shapes';
import { ShapesSampler } from '../packages/shapes/src/lab/sampler.ts';

const { values } = parseArgs({ options: { steps: { type: 'string', default: '200' }, dataset: { type: 'string' } } });
const STEPS = Number(values.steps);
if (!Number.isInteger(STEPS) || STEPS < 1) {
  console.error(`--steps must be a positive integer, got ${values.steps}`);
  process.exit(2);
}
const DATASET = resolve(values.dataset ?? process.env.NPO_DEMO_DATASET ?? join(REPO_ROOT, 'datasets/shapes-preferences.zip'));
if (!existsSync(DATASET)) {
  console.error(`dataset ${DATASET} does not exist (build it with npm run build:shapes-dataset, or pass --dataset PATH)`);
  process.exit(2);
}
const MODEL_DIR = join(REPO_ROOT, 'models/tiny-sd');
const OUT = join(REPO_ROOT, '.data/demo');
const HYPERPARAMETERS = {
  steps: STEPS, batch_pairs: 16, learning_rate: 5e-4, beta: 2000, lora_rank: 8, lora_alpha: 8, warmup_steps: 0,
  resolution: 16, checkpoint_every: 50, seed: 0,
};
// evaluation: the 12 prompts × 8 seeds, noise from (EVAL_SEED, index), guidance 7, 20 DDIM steps
const SEEDS_PER_PROMPT = 8;
const EVAL_SEED = 2024;
const GUIDANCE = 7;
const SAMPLING_STEPS = 20;

const started = Date.now();
const log = (msg: string) => console.log(`[demo ${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${msg}`);
mkdirSync(OUT, { recursive: true });

// --- services: the same setup as `npm start`, then the API and one worker on a free port ---------------------------
const config = loadConfig();
await setupServices(config, createLogger('warn', 'npo-demo'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const children: ChildProcess[] = [];
let finished = false; // once set, children exiting is expected
const stopChildren = () => { for (const c of children) if (c.exitCode === null) c.kill('SIGTERM'); };
process.on('exit', stopChildren);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => { stopChildren(); process.exit(130); });
for (const [name, entry] of [['api', 'apps/api/src/server.ts'], ['worker', 'apps/worker/src/main.ts']]) {
  const logFile = createWriteStream(join(OUT, `${name}.log`));
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { cwd: REPO_ROOT, env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(logFile);
  child.stderr!.pipe(logFile);
  child.on('exit', (code, signal) => { if (!finished) fail(`the ${name} process exited (code ${code}, signal ${signal}); see ${join(OUT, `${name}.log`)}`); });
  children.push(child);
}
await waitFor('the API', 60_000, async () => { try { return (await fetch(`${base}/readyz`)).ok; } catch { return false; } });
log(`API and worker running on ${base} (logs in ${OUT})`);

try {
  // --- key, dataset, job ---------------------------------------------------------------------------------------------
  const db = createDb(config.databaseUrl, config.databaseSchema, 1);
  const { key } = await createApiKey(db, 'demo');
  await db.$disconnect();
  const auth = { authorization: `Bearer ${key}` };
  const api = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${base}${path}`, { ...init, headers: { ...auth, ...(init.headers ?? {}) } });
    const body = await res.json();
    if (!res.ok) fail(`${init.method ?? 'GET'} ${path} → ${res.status} ${JSON.stringify(body)}`);
    return body;
  };
  log(`created an API key; uploading ${DATASET}`);
  const form = new FormData();
  form.append('file', await openAsBlob(DATASET), 'shapes-preferences.zip');
  const uploaded = await api('/v1/datasets', { method: 'POST', body: form });
  const dataset = await waitFor('dataset validation', 120_000, async () => { const d = await api(`/v1/datasets/${uploaded.id}`); return d.status !== 'validating' && d; });
  if (dataset.status !== 'ready') fail(`dataset ${dataset.id} is ${dataset.status}: ${JSON.stringify(dataset.report)}`);
  log(`dataset ${dataset.id} ready: ${dataset.report.pairs_kept} pairs kept of ${dataset.report.rows_read} rows`);

  const job = await api('/v1/jobs', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'tiny-sd', dataset: dataset.id, method: 'npo', hyperparameters: HYPERPARAMETERS }),
  });
  log(`job ${job.id}: NPO on tiny-sd, ${JSON.stringify(job.hyperparameters)}`);
  const done = await follow(job.id, (path) => api(path));
  if (done.status !== 'succeeded') fail(`job ${job.id} ended ${done.status}: ${JSON.stringify(done.error)}`);
  log(`job succeeded: ${done.progress.step} steps, final loss ${done.metrics?.loss?.toFixed(4)}, implicit accuracy ${done.metrics?.implicit_acc?.toFixed(3)}`);

  // --- the final adapter ---------------------------------------------------------------------------------------------
  const adapterPath = join(OUT, 'adapter_model.safetensors');
  const res = await fetch(`${base}/v1/jobs/${job.id}/checkpoints/${done.progress.step}/download?stream=1`, { headers: auth });
  if (!res.ok || !res.body) fail(`adapter download → ${res.status}`);
  await pipeline(Readable.fromWeb(res.body as never), createWriteStream(adapterPath));
  const meta = SafetensorsFile.open(adapterPath).metadata;
  log(`downloaded the adapter to ${adapterPath} (method ${meta.method}, rank ${meta.rank}, step ${meta.step})`);
  const unetSha = await sha256File(join(MODEL_DIR, 'unet/diffusion_pytorch_model.safetensors'));
  if (meta.base_model_sha256 && meta.base_model_sha256 !== unetSha) log('warning: the adapter was trained on another version of the tiny-sd UNet than the one in models/');
  finished = true;
  stopChildren();

  // --- plain CFG (A) vs NPO-CFG (B), same prompts and noise ---------------------------------------------------------
  const adapter = loadLora(adapterPath);
  log(`sampling ${PROMPTS.length} prompts × ${SEEDS_PER_PROMPT} seeds, guidance ${GUIDANCE}, ${SAMPLING_STEPS} steps: A = plain CFG, B = NPO-CFG`);
  const sampler = await ShapesSampler.create(MODEL_DIR, { workDir: join(OUT, 'sampler'), batch: 24, rank: adapter.config.rank });
  const prompts = PROMPTS.flatMap((_, p) => Array<number>(SEEDS_PER_PROMPT).fill(p));
  const indices = prompts.map((p, i) => p * 1000 + (i % SEEDS_PER_PROMPT));
  const imagesA = await sampler.sample(prompts, indices, EVAL_SEED, GUIDANCE, {}, SAMPLING_STEPS);
  const imagesB = await sampler.sample(prompts, indices, EVAL_SEED, GUIDANCE, { npo: { adapter, positiveScale: 0, negativeScale: 1 } }, SAMPLING_STEPS);
  const rA = rewardBatch(imagesA, prompts);
  const rB = rewardBatch(imagesB, prompts);
  const gains = Array.from(rA, (a, i) => rB[i] - a);
  const n = gains.length;
  const mean = gains.reduce((s, g) => s + g, 0) / n;
  const se = Math.sqrt(gains.reduce((s, g) => s + (g - mean) ** 2, 0) / (n - 1) / n);
  const winRate = gains.reduce((s, g) => s + (g > 0 ? 1 : g === 0 ? 0.5 : 0), 0) / n;
  const avg = (r: Float64Array) => r.reduce((s, x) => s + x, 0) / r.length;
  console.log(`mean reward  A (plain CFG) ${avg(rA).toFixed(4)}   B (NPO-CFG) ${avg(rB).toFixed(4)}`);
  console.log(`paired reward gain B − A: ${mean >= 0 ? '+' : ''}${mean.toFixed(4)} ± ${se.toFixed(4)} (standard error, n = ${n}); B wins ${(100 * winRate).toFixed(1)}% of pairs (ties count half)`);

  // rows: prompts; left half A, right half B, same seeds in the same columns
  const image = (all: Float32Array, i: number) => all.slice(i * IMAGE_LENGTH, (i + 1) * IMAGE_LENGTH);
  const rows = PROMPTS.map((_, p) => {
    const cols = Array.from({ length: SEEDS_PER_PROMPT }, (_, k) => p * SEEDS_PER_PROMPT + k);
    return [...cols.map((i) => image(imagesA, i)), ...cols.map((i) => image(imagesB, i))];
  });
  const grid = join(OUT, 'ab-grid.png');
  await writePngGrid(grid, rows, 4);
  log(`side-by-side grid written (rows: prompts; left ${SEEDS_PER_PROMPT} columns A, right ${SEEDS_PER_PROMPT} B; wall time ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  console.log(grid);
} finally {
  finished = true;
  stopChildren();
}
process.exit(0); // onnxruntime sessions would keep the event loop alive

// --- helpers ---------------------------------------------------------------------------------------------------------
function fail(message: string): never {
  console.error(`demo: ${message}`);
  stopChildren();
  process.exit(1);
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | false | null | undefined>, everyMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) fail(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

interface JobView { status: string; progress: { step: number; total_steps: number; percent: number; eta_seconds: number | null }; metrics: { loss?: number; implicit_acc?: number } | null; error: unknown }

/** Polls the job until it ends: a progress bar on a terminal, plain lines otherwise. */
async function follow(id: string, get: (path: string) => Promise<JobView>): Promise<JobView> {
  const tty = process.stdout.isTTY;
  const bar = tty
    ? new cliProgress.SingleBar({ format: 'training [{bar}] {percent}% | {value}/{total} steps | ETA {eta_formatted} | {status} | loss {loss} | implicit acc {acc}', etaBuffer: 20 }, cliProgress.Presets.shades_classic)
    : null;
  let lastStatus = '';
  let lastLogged = -1;
  bar?.start(STEPS, 0, { status: 'queued', loss: '-', acc: '-' });
  for (;;) {
    const j = await get(`/v1/jobs/${id}`);
    const loss = j.metrics?.loss?.toFixed(4) ?? '-';
    const acc = j.metrics?.implicit_acc?.toFixed(3) ?? '-';
    if (bar) bar.update(j.progress.step, { status: j.status, loss, acc });
    else if (j.status !== lastStatus || j.progress.step - lastLogged >= Math.max(1, Math.floor(STEPS / 10))) {
      const eta = j.progress.eta_seconds === null ? '-' : `${Math.round(j.progress.eta_seconds)} s`;
      log(`${j.status}: step ${j.progress.step}/${j.progress.total_steps} (${j.progress.percent}%), ETA ${eta}, loss ${loss}, implicit accuracy ${acc}`);
      lastLogged = j.progress.step;
    }
    lastStatus = j.status;
    if (['succeeded', 'failed', 'cancelled'].includes(j.status)) {
      bar?.stop();
      return j;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
