import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile } from '../../../packages/graph/src/safetensors.ts';
import { cli, cliJson, startTestServer, waitFor, type TestServer } from './helpers.ts';

// Every command against the real API, Postgres, Redis and S3, with a real worker validating datasets; its
// training is the worker's scripted stand-in (20 ms sleeps per step), so jobs end in moments.
const FIXTURE = new URL('./fixtures/pairs.zip', import.meta.url).pathname;
let server: TestServer;
let datasetId: string;
const scratch = mkdtempSync(join(tmpdir(), 'npo-cli-'));
before(async () => { server = await startTestServer('cli'); });
after(async () => {
  await server.close();
  rmSync(scratch, { recursive: true, force: true });
});

test('datasets upload streams a zip from disk; the worker validates it; get and list show it', async () => {
  const up = await cli(server, ['datasets', 'upload', FIXTURE, '--name', 'cli pairs']);
  assert.equal(up.code, 0, up.stderr);
  const id = /as dataset (ds_\S+): validating/.exec(up.stdout)?.[1];
  assert.ok(id, up.stdout);
  datasetId = id;
  const stored = await server.ctx.storage.getBuffer(`datasets/${id}/data.zip`);
  assert.ok(stored.equals(readFileSync(FIXTURE)), 'the uploaded bytes are the file, byte for byte');

  const ready = await waitFor('validation', async () => { const d = await cliJson(server, ['datasets', 'get', id]); return d.status !== 'validating' && d; });
  assert.equal(ready.status, 'ready', JSON.stringify(ready.report));
  assert.equal(ready.name, 'cli pairs');
  assert.equal(ready.format, 'zip');
  assert.equal(ready.size_bytes, statSync(FIXTURE).size);
  assert.equal(ready.report.pairs_kept, 8);

  const human = await cli(server, ['datasets', 'get', id]);
  assert.equal(human.code, 0);
  assert.match(human.stdout, new RegExp(`^id:\\s+${id}$`, 'm'));
  assert.match(human.stdout, /^status:\s+ready$/m);

  const list = await cli(server, ['datasets', 'list']);
  assert.equal(list.code, 0);
  assert.match(list.stdout, /^ID\s+NAME\s+FORMAT\s+STATUS/);
  assert.match(list.stdout, new RegExp(`^${id}\\s+cli pairs\\s+zip\\s+ready`, 'm'));
  const listed = await cliJson(server, ['datasets', 'list', '--status', 'ready']);
  assert.deepEqual(listed.data.map((d: { id: string }) => d.id), [id]);
  assert.equal((await cliJson(server, ['datasets', 'list', '--status', 'invalid'])).data.length, 0);
});

test('a missing upload file is exit 1 with file_not_found, and nothing is sent', async () => {
  const r = await cli(server, ['datasets', 'upload', join(scratch, 'nope.zip')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error file_not_found: cannot read .*nope\.zip: ENOENT/);
  assert.equal((await cliJson(server, ['datasets', 'list'])).data.length, 1);
});

test('models list shows the built-in tiny-sd', async () => {
  const r = await cli(server, ['models', 'list']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^tiny-sd\s+tiny-sd\s+builtin\s+ready\s+yes/m);
  const json = await cliJson(server, ['models', 'list']);
  assert.deepEqual(json.data.map((m: { id: string }) => m.id), ['tiny-sd']);
});

test('jobs create: flags and --hp become hyperparameters; the same idempotency key gives the same job; cancel; list --status (and its old name --state)', async () => {
  const args = ['jobs', 'create', '--model', 'tiny-sd', '--dataset', datasetId, '--method', 'dpo', '--steps', '2000', '--lr', '2e-5', '--beta', '3000',
    '--rank', '4', '--pairs', '2', '--accumulate', '8', '--hp', 'warmup_steps=0', '--hp', 'lr_schedule=cosine', '--idempotency-key', 'cli-test-1'];
  const first = await cli(server, args);
  assert.equal(first.code, 0, first.stderr);
  const id = /^created job (job_\S+): queued$/m.exec(first.stdout)?.[1];
  assert.ok(id, first.stdout);
  const again = await cli(server, args);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, new RegExp(`^job ${id} already exists for idempotency key "cli-test-1"`, 'm'));
  const json = await cliJson(server, args);
  assert.equal(json.id, id);
  assert.equal(json.method, 'dpo');
  assert.equal(json.hyperparameters.steps, 2000);
  assert.equal(json.hyperparameters.learning_rate, 2e-5);
  assert.equal(json.hyperparameters.beta, 3000);
  assert.equal(json.hyperparameters.lora_rank, 4);
  assert.equal(json.hyperparameters.batch_pairs, 2);
  assert.equal(json.hyperparameters.gradient_accumulation_steps, 8);
  assert.equal(json.hyperparameters.warmup_steps, 0);
  assert.equal(json.hyperparameters.lr_schedule, 'cosine');

  const conflict = await cli(server, [...args.slice(0, -2), '--steps', '2001', '--idempotency-key', 'cli-test-1']);
  assert.equal(conflict.code, 1);
  assert.match(conflict.stderr, /^error idempotency_conflict: /);

  const got = await cli(server, ['jobs', 'get', id]);
  assert.equal(got.code, 0);
  assert.match(got.stdout, new RegExp(`^id:\\s+${id}$`, 'm'));
  assert.match(got.stdout, /^progress:\s+\d+\/(2000 steps|\d+ pairs) \(/m);

  const cancel = await cli(server, ['jobs', 'cancel', id]);
  assert.equal(cancel.code, 0, cancel.stderr);
  assert.match(cancel.stdout, new RegExp(`^job ${id}: (cancelled|cancelling)\n$`));
  // wait ends with the job cancelled: exit 1, and the code says why
  const wait = await cli(server, ['jobs', 'wait', id, '--interval', '0.1']);
  assert.equal(wait.code, 1);
  assert.match(wait.stderr, new RegExp(`^error job_cancelled: job ${id} was cancelled`));
  assert.match(wait.stdout, /^status:\s+cancelled$/m);

  const cancelled = await cliJson(server, ['jobs', 'list', '--status', 'cancelled']);
  assert.deepEqual(cancelled.data.map((j: { id: string }) => j.id), [id]);
  assert.equal((await cliJson(server, ['jobs', 'list', '--status', 'succeeded'])).data.length, 0);
  assert.deepEqual((await cliJson(server, ['jobs', 'list', '--state', 'cancelled'])).data.map((j: { id: string }) => j.id), [id]);
  assert.equal((await cliJson(server, ['jobs', 'list', '--state', 'succeeded'])).data.length, 0);
  const table = await cli(server, ['jobs', 'list', '--status', 'cancelled']);
  assert.match(table.stdout, new RegExp(`^${id}\\s+cancelled\\s+dpo\\s+tiny-sd\\s+${datasetId}`, 'm'));
  const again2 = await cli(server, ['jobs', 'cancel', id]);
  assert.equal(again2.code, 1);
  assert.match(again2.stderr, /^error job_not_cancellable: /);
});

test('a short job: events --follow streams until it succeeds, wait prints plain lines, download fetches the adapters', async () => {
  const job = await cliJson(server, ['jobs', 'create', '--model', 'tiny-sd', '--dataset', datasetId, '--steps', '3', '--hp', 'checkpoint_every=2', '--hp', 'warmup_steps=0']);
  assert.equal(job.method, 'npo');

  const follow = await cli(server, ['jobs', 'events', job.id, '--follow']);
  assert.equal(follow.code, 0, follow.stderr);
  const states = [...follow.stdout.matchAll(/ state\s+status=(\w+)/g)].map((m) => m[1]);
  assert.equal(states[0], 'queued');
  assert.equal(states.at(-1), 'succeeded', follow.stdout);
  assert.ok(states.includes('training'), follow.stdout);
  const paged = await cliJson(server, ['jobs', 'events', job.id]);
  assert.equal(follow.stdout.trim().split('\n').length, paged.data.length, 'follow printed each stored event once');

  const wait = await cli(server, ['jobs', 'wait', job.id]);
  assert.equal(wait.code, 0, wait.stderr);
  assert.match(wait.stdout, /^succeeded: 3\/3 steps \(100%\), ETA 0 s, loss 0\.\d{4}, implicit acc 0\.500$/m);

  const out = join(scratch, 'final.safetensors');
  const dl = await cli(server, ['jobs', 'download', job.id, '-o', out]);
  assert.equal(dl.code, 0, dl.stderr);
  assert.match(dl.stdout, /saved final adapter of job .* \(step 3, /);
  assert.equal(SafetensorsFile.open(out).metadata.step, '3');
  const dl2 = await cli(server, ['jobs', 'download', job.id, '--step', '2'], { cwd: scratch });
  assert.equal(dl2.code, 0, dl2.stderr);
  const named = join(scratch, `${job.id}-step-2-adapter_model.safetensors`);
  assert.equal(SafetensorsFile.open(named).metadata.step, '2');
  const missing = await cli(server, ['jobs', 'download', job.id, '--step', '7'], { cwd: scratch });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error checkpoint_not_found: job \S+ has no checkpoint at step 7 \(checkpoints: 2, 3\)/);
  assert.ok(!existsSync(join(scratch, `${job.id}-step-7-adapter_model.safetensors.partial`)));
});

test('wait on a terminal draws the cli-progress bar with percent, ETA, loss and implicit accuracy', async () => {
  const job = await cliJson(server, ['jobs', 'create', '--model', 'tiny-sd', '--dataset', datasetId, '--steps', '4', '--hp', 'warmup_steps=0']);
  const r = await cli(server, ['jobs', 'wait', job.id, '--interval', '0.05'], { tty: true });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /succeeded \[[█░]+\] 100% \| 4\/4 steps \| ETA 0 s \| loss 0\.\d{4} \| implicit acc 0\.500/);
});

test('API errors: unknown job → exit 1 with not_found; a bad key → unauthorized; validation names the field', async () => {
  const r = await cli(server, ['jobs', 'get', 'job_doesnotexist']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^error not_found: job job_doesnotexist not found\n {2}resource: job\n {2}id: job_doesnotexist\n$/);
  const events = await cli(server, ['jobs', 'events', 'job_doesnotexist', '--follow']);
  assert.equal(events.code, 1);
  assert.match(events.stderr, /^error not_found: /);
  const badKey = await cli(server, ['models', 'list', '--key', 'npo_wrong']);
  assert.equal(badKey.code, 1);
  assert.match(badKey.stderr, /^error (unauthorized|invalid_api_key)\b/);
  const badHp = await cli(server, ['jobs', 'create', '--model', 'tiny-sd', '--dataset', datasetId, '--hp', 'nonsense=1']);
  assert.equal(badHp.code, 1);
  assert.match(badHp.stderr, /nonsense/);
});

test('usage errors exit 2 with the usage line, before any request', async () => {
  const cases: [string[], RegExp][] = [
    [['jobs', 'create', '--dataset', 'ds_x'], /^error: --model is required\nusage: npo jobs create --model M/],
    [['jobs', 'create', '--model', 'm', '--dataset', 'd', '--steps', 'ten'], /--steps must be an integer ≥ 1, got "ten"/],
    [['jobs', 'create', '--model', 'm', '--dataset', 'd', '--hp', 'steps'], /--hp takes key=value/],
    [['jobs', 'create', '--model', 'm', '--dataset', 'd', '--method', 'ppo'], /--method must be one of npo, dpo/],
    [['jobs', 'list', '--status', 'done'], /--status must be one of queued,/],
    [['jobs', 'list', '--state', 'done'], /--state must be one of queued,/],
    [['jobs', 'get'], /^error: missing <id>\nusage: npo jobs get <id>/],
    [['jobs', 'get', 'a', 'b'], /unexpected argument "b"/],
    [['jobs', 'get', 'a', '--bogus'], /Unknown option '--bogus'/],
    [['jobs', 'explode'], /unknown action "explode" for jobs \(one of: create, get, list, cancel, events, wait, download\)/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [[], /no command given/],
    [['models', 'list', '--url', 'not a url'], /must be an http\(s\) URL/],
  ];
  for (const [argv, message] of cases) {
    const r = await cli(server, argv);
    assert.equal(r.code, 2, `npo ${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /\nusage: npo /);
    assert.equal(r.stdout, '');
  }
  const help = await cli(server, ['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /jobs download <id>/);
});
