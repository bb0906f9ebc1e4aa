import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveHyperparameters, resolutionProblem, defaultResolution, newId, encodeCursor, decodeCursor, NotFoundError, ConflictError, ApiError, HYPERPARAMETER_DEFAULTS } from '../src/index.ts';

test('hyperparameter defaults follow the reference runs and depend on method and model', () => {
  const npo = resolveHyperparameters({}, 'npo', { pixelSpace: false, sampleSize: 64 });
  assert.equal(npo.beta, 1000);
  assert.equal(npo.learning_rate, 1e-5);
  assert.equal(npo.resolution, 512);
  assert.equal(npo.lora_alpha, 8);
  assert.equal(resolveHyperparameters({}, 'dpo', { pixelSpace: false, sampleSize: 64 }).beta, 5000);
  assert.equal(resolveHyperparameters({}, 'npo', { pixelSpace: true, sampleSize: 32 }).resolution, 32);
  const given = resolveHyperparameters({ beta: 7, lora_rank: 16, steps: 3 }, 'npo', { pixelSpace: true, sampleSize: 32 });
  assert.equal(given.beta, 7);
  assert.equal(given.lora_alpha, 16);
  assert.equal(given.steps, 3);
  assert.equal(given.checkpoint_every, HYPERPARAMETER_DEFAULTS.checkpoint_every);
  assert.equal(defaultResolution({ pixelSpace: true, sampleSize: 16 }), 16);
});

test('a pixel-space model takes only its sample size as resolution; a latent model any multiple of 8', () => {
  assert.equal(resolutionProblem(16, { pixelSpace: true, sampleSize: 16 }), null);
  assert.match(resolutionProblem(32, { pixelSpace: true, sampleSize: 16 }) ?? '', /must be 16 .*got 32/);
  assert.equal(resolutionProblem(768, { pixelSpace: false, sampleSize: 64 }), null);
});

test('ids sort by creation time and cursors round-trip', async () => {
  const a = newId('job');
  await new Promise((r) => setTimeout(r, 2));
  const b = newId('job');
  assert.match(a, /^job_[0-9a-f]{28}$/);
  assert.ok(a < b);
  assert.equal(decodeCursor(encodeCursor(a)), a);
  assert.equal(decodeCursor(encodeCursor('tiny-sd')), 'tiny-sd');
  assert.equal(decodeCursor(Buffer.from("x' OR 1=1").toString('base64url')), null);
});

test('errors carry stable codes and statuses', () => {
  const nf = new NotFoundError('job', 'job_1');
  assert.ok(nf instanceof ApiError);
  assert.equal(nf.status, 404);
  assert.deepEqual(nf.toBody(), { error: { code: 'not_found', message: 'job job_1 not found', details: { resource: 'job', id: 'job_1' } } });
  assert.equal(new ConflictError('x', 'idempotency_conflict').toBody().error.code, 'idempotency_conflict');
});
