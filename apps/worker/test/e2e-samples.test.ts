import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { startStack, TINY_HP, type Stack } from './fixtures/e2e-stack.ts';
import { waitFor } from './helpers.ts';

// Sampling through the API on a real worker with the built-in tiny-sd: validation grids and rewards per checkpoint,
// the DPO + NPO sampling endpoint, determinism by seed, the base model alone, cancellation.
const LONG = 5 * 60 * 1000;
let s: Stack;
let npoJob: string;
let dpoJob: string;

before(async () => {
  s = await startStack('e2esamples');
});
after(async () => { await s?.stop(); });

const untilSet = (id: string, statuses: string[], timeout = LONG) =>
  waitFor(`sample set ${id} in ${statuses}`, async () => { const x = await s.get(`/v1/samples/${id}`); return statuses.includes(x.status) && x; }, timeout, 200);
const png = async (url: string) => Buffer.from(await (await fetch(url)).arrayBuffer());

test('validation prompts: a grid and both arms\' rewards at every 4th step and the final checkpoint; a preview grid at the end', { timeout: LONG }, async () => {
  const prompts = ['a red circle', 'a blue square'];
  npoJob = (await s.createJob({ hyperparameters: { ...TINY_HP, steps: 6, checkpoint_every: 2 }, validation: { prompts, seeds: [0, 1], every: 4, steps: 10, guidance: 5 } })).id;
  const job = await s.until(npoJob, ['succeeded', 'failed']);
  assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
  const cps = (await s.get(`/v1/jobs/${npoJob}/checkpoints`)).data;
  assert.deepEqual(cps.map((c: { step: number; validation_sample: string | null }) => [c.step, c.validation_sample !== null]), [[2, false], [4, true], [6, true]]);
  const metrics = await s.get(`/v1/jobs/${npoJob}/metrics`);
  assert.deepEqual(metrics.validation.map((v: { step: number }) => v.step), [4, 6]);
  for (const v of metrics.validation) {
    assert.equal(v.n, 4, 'prompts × seeds');
    for (const r of [v.reward_base, v.reward_adapted]) assert.ok(r < 0 && r > -2, `a shapes reward is in (−2, 0]: ${r}`);
    assert.ok(Math.abs(v.reward_difference - (v.reward_adapted - v.reward_base)) < 1e-9, 'all pairs complete: mean difference = difference of means');
  }
  const set = await s.get(`/v1/samples/${cps[2].validation_sample}`);
  assert.equal(set.kind, 'validation');
  assert.equal(set.checkpoint, 6);
  assert.equal(set.images.length, 8);
  assert.ok(set.images.every((i: { reward?: number }) => typeof i.reward === 'number'));
  const grid = await sharp(await png(set.grid_url)).metadata();
  assert.equal(grid.format, 'png');
  assert.ok(grid.width! > grid.height!, `2 × 2 columns beside 2 rows: ${grid.width}×${grid.height}`);
  const sets = (await s.get(`/v1/jobs/${npoJob}/samples`)).data;
  assert.deepEqual(sets.map((x: { kind: string; status: string }) => `${x.kind}:${x.status}`).sort(), ['preview:succeeded', 'validation:succeeded', 'validation:succeeded']);
});

test('POST /v1/jobs/{id}/samples: DPO + NPO (another job\'s adapter in the negative role), labelled grid and PNGs; same seeds → same images', { timeout: LONG }, async () => {
  dpoJob = (await s.createJob({ method: 'dpo', hyperparameters: { ...TINY_HP, steps: 2, checkpoint_every: 2 } })).id;
  assert.equal((await s.until(dpoJob, ['succeeded', 'failed'])).state, 'succeeded');
  const body = { prompts: ['a red circle', 'a green triangle'], seeds: [3, 4], guidance: [5], steps: 8, other_adapter: { job: npoJob, checkpoint: 4 } };
  const first = await s.post(`/v1/jobs/${dpoJob}/samples`, body);
  assert.equal(first.status, 202, JSON.stringify(first.body));
  const done = await untilSet(first.body.id, ['succeeded', 'failed']);
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  assert.deepEqual(done.adapters, [{ job: dpoJob, checkpoint: 2, role: 'positive' }, { job: npoJob, checkpoint: 4, role: 'negative' }]);
  assert.equal(done.images.length, 2 * 2 * 2);
  assert.deepEqual(new Set(done.images.map((i: { arm: string }) => i.arm)), new Set(['base', 'adapted']));
  const one = await sharp(await png(done.images[0].url)).metadata();
  assert.deepEqual([one.width, one.height], [16, 16]);
  const redirect = await fetch(`${s.base}/v1/samples/${done.id}/files/grid.png`, { headers: s.headers(), redirect: 'manual' });
  assert.equal(redirect.status, 302);
  assert.equal((await sharp(await png(redirect.headers.get('location')!)).metadata()).format, 'png');

  const again = await untilSet((await s.post(`/v1/jobs/${dpoJob}/samples`, body)).body.id, ['succeeded', 'failed']);
  for (const img of done.images) {
    const twin = again.images.find((i: { name: string }) => i.name === img.name);
    assert.ok((await png(img.url)).equals(await png(twin.url)), `${img.name} differs between two runs with the same seeds`);
  }
  const adapted = done.images.filter((i: { arm: string }) => i.arm === 'adapted');
  const baseTwin = (i: { prompt: number; seed: number }) => done.images.find((b: { arm: string; prompt: number; seed: number }) => b.arm === 'base' && b.prompt === i.prompt && b.seed === i.seed);
  let differ = 0;
  for (const a of adapted) if (!(await png(a.url)).equals(await png(baseTwin(a).url))) differ++;
  assert.ok(differ > 0, 'the adapters change the images');
});

test('POST /v1/models/{id}/samples: the base model alone gives the base arm of a job request on the same seed', { timeout: LONG }, async () => {
  const res = await s.post('/v1/models/tiny-sd/samples', { prompts: ['a red circle'], seeds: [3], guidance: [5], steps: 8 });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const done = await untilSet(res.body.id, ['succeeded', 'failed']);
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  assert.deepEqual(done.images.map((i: { arm: string; seed: number }) => [i.arm, i.seed]), [['base', 3]]);
  assert.ok(done.rewards && done.rewards.adapted === null && done.rewards.n === 1);
  const jobSet = (await s.get(`/v1/jobs/${dpoJob}/samples`)).data.find((x: { kind: string }) => x.kind === 'request');
  const twin = jobSet.images.find((i: { arm: string; prompt: number; seed: number }) => i.arm === 'base' && i.prompt === 0 && i.seed === 3);
  const [a, b] = await Promise.all([png(done.images[0].url), png(twin.url)].map(async (p) => sharp(await p).raw().toBuffer()));
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
  assert.ok(maxDiff <= 1, `same seed, prompt and guidance: at most a rounding step apart, got ${maxDiff}`);
});

test('cancelling a running sampling request stops it and leaves no files', { timeout: LONG }, async () => {
  const prompts = ['a red circle', 'a red square', 'a red triangle', 'a blue circle', 'a blue square', 'a blue triangle', 'a green circle', 'a green square'];
  const res = await s.post(`/v1/jobs/${npoJob}/samples`, { prompts, seeds: [0, 1, 2, 3, 4, 5, 6, 7], steps: 100 });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  await untilSet(res.body.id, ['running']);
  const cancel = await s.post(`/v1/samples/${res.body.id}/cancel`, {});
  assert.equal(cancel.status, 200);
  assert.ok(['cancelling', 'cancelled'].includes(cancel.body.status), cancel.body.status);
  const done = await untilSet(res.body.id, ['cancelled', 'succeeded', 'failed'], 60000);
  assert.equal(done.status, 'cancelled');
  assert.deepEqual(await s.ctx.storage.list(`samples/${res.body.id}/`), []);
});
