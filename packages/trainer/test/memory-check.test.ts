import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobTooLargeError, resolveHyperparameters } from '@npo/contracts';
import { writeTinySdxlFolder } from '@npo/diffusion';
import { checkJobMemory } from '../src/memory-check.ts';
import { checkJobMemoryInThread } from '../src/memory-check-thread.ts';

// The worker sizes a job before preparing its dataset: from the model folder's configs and the hyperparameters, in a
// worker thread (its main thread keeps renewing queue locks). A refusal must come back as the JobTooLargeError the
// program itself would raise, with its estimate and budget; a job that fits learns the plan it will be compiled with.
const TINY_SD = join(import.meta.dirname, '../../../models/tiny-sd');
const dir = mkdtempSync(join(tmpdir(), 'npo-memory-check-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const hp = (over: Record<string, unknown>, model: { pixelSpace: boolean; sampleSize: number }) =>
  resolveHyperparameters({ steps: 2, lora_rank: 4, seed: 1, ...over }, { method: 'npo', model });

test('a job over the budget is refused in the thread with the JobTooLargeError, code, message and details of the main-thread check', async () => {
  const o = { modelDir: TINY_SD, method: 'npo' as const, hyperparameters: hp({ batch_pairs: 2, resolution: 16 }, { pixelSpace: true, sampleSize: 16 }), memoryBudgetMb: 100 };
  let direct: unknown;
  try {
    checkJobMemory(o);
  } catch (e) {
    direct = e;
  }
  assert.ok(direct instanceof JobTooLargeError);
  await assert.rejects(checkJobMemoryInThread(o), (e: unknown) => {
    assert.ok(e instanceof JobTooLargeError, String(e));
    assert.equal(e.code, 'job_too_large');
    assert.equal(e.retryable, false);
    assert.equal(e.message, direct.message);
    assert.deepEqual(e.details, direct.details);
    assert.equal(e.details.budget_mb, 100);
    assert.match(e.message, /^one training step needs an estimated \d+ MB even with every block checkpointed; the worker's memory budget is 100 MB \(MEMORY_BUDGET_MB\): even batch_pairs 1 does not fit: lower resolution \(now 16\)$/);
    return true;
  });
});

test('a job that fits learns its plan and estimate; an abort stops the thread', async () => {
  const o = { modelDir: TINY_SD, method: 'npo' as const, hyperparameters: hp({ batch_pairs: 2, resolution: 16 }, { pixelSpace: true, sampleSize: 16 }), memoryBudgetMb: 100_000 };
  const fits = await checkJobMemoryInThread(o);
  assert.deepEqual(fits, checkJobMemory(o));
  assert.equal(fits.plan, 'keep');
  assert.equal(fits.budget_mb, 100_000);
  assert.ok(fits.estimate_mb > 0 && fits.estimate_mb < 100_000, JSON.stringify(fits));
  const controller = new AbortController();
  const run = checkJobMemoryInThread({ ...o, signal: controller.signal });
  controller.abort(new Error('cancelled by the test'));
  await assert.rejects(run, /cancelled by the test/);
});

test('a latent model is sized from its VAE and tokenizer configs: SDXL, with gradient accumulation', async () => {
  const model = join(dir, 'sdxl');
  writeTinySdxlFolder(model, { words: ['a red circle'], seed: 11, vaeFrom: join(import.meta.dirname, '../../diffusion/test/fixtures/encoders/public/vae') });
  const h = (resolution: number) => hp({ batch_pairs: 1, gradient_accumulation_steps: 4, resolution }, { pixelSpace: false, sampleSize: 8 });
  const at16 = await checkJobMemoryInThread({ modelDir: model, method: 'npo', hyperparameters: h(16), memoryBudgetMb: 100_000 });
  const at64 = await checkJobMemoryInThread({ modelDir: model, method: 'npo', hyperparameters: h(64), memoryBudgetMb: 100_000 });
  assert.ok(at64.estimate_mb > at16.estimate_mb, `${at64.estimate_mb} MB at 64 px, ${at16.estimate_mb} MB at 16 px`);
});
