// Every session a worker opens runs on its configured provider: preparation (text encoder, VAE), the training
// step, the sample grid and sampling requests. The binding is checked function by function, and through the real trainer: on this
// GPU-less machine a cuda worker's every path must fail with the provider error, never run on CPU instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveHyperparameters } from '@npo/contracts';
import { realTrainer, type TrainerApi } from '../src/trainer-api.ts';
import { trainerOn } from '../src/trainer-on-provider.ts';
import { tryLoadLibrary } from '../../../packages/graph/src/cuda/native-library.ts';
import { makePrepared, TINY_MODEL } from '../../../packages/trainer/test/helpers.ts';

const ROOT = new URL('../../..', import.meta.url).pathname;
const TINY_SD = join(ROOT, 'models/tiny-sd');
const hasDriver = tryLoadLibrary('libcuda.so.1').loaded;

test('trainerOn binds the provider into every trainer function that opens sessions, over what the caller passed', async () => {
  const seen: Record<string, unknown> = {};
  const recording = {
    trainAdapter: async (o: { executionProvider?: string }) => ((seen.trainAdapter = o.executionProvider), { cancelled: false, steps: 0, finalAdapter: null }),
    encodeDatasetForModel: async (o: { executionProvider?: string }) => ((seen.encodeDatasetForModel = o.executionProvider), { preparedDir: '', pairs: 0, cached: false }),
    renderSampleGrid: async (o: { executionProvider?: string }) => ((seen.renderSampleGrid = o.executionProvider), { file: '' }),
    renderSamples: async (o: { executionProvider?: string }) => ((seen.renderSamples = o.executionProvider), { grid: '', images: [], side: 0 }),
    validateModelFolder: async () => ((seen.validateModelFolder = 'no sessions'), { ok: true, errors: [], info: { pixelSpace: true, sampleSize: 0, hasVae: false } }),
    checkJobMemory: async () => ((seen.checkJobMemory = 'no sessions'), { plan: 'keep', estimate_mb: 1, budget_mb: 1 }),
  } as unknown as TrainerApi;
  const bound = trainerOn('cuda', recording);
  const asCpu = { executionProvider: 'cpu' } as never;
  await bound.trainAdapter(asCpu);
  await bound.encodeDatasetForModel(asCpu);
  await bound.renderSampleGrid(asCpu);
  await bound.renderSamples(asCpu);
  await bound.validateModelFolder('x');
  await bound.checkJobMemory({} as never);
  assert.deepEqual(Object.keys(bound).sort(), Object.keys(realTrainer).sort());
  assert.deepEqual(seen, { trainAdapter: 'cuda', encodeDatasetForModel: 'cuda', renderSampleGrid: 'cuda', renderSamples: 'cuda', validateModelFolder: 'no sessions', checkJobMemory: 'no sessions' });
});

async function providerError(what: string, run: () => Promise<unknown>) {
  await assert.rejects(run, (e: Error & { code?: string }) => {
    assert.equal(e.code, 'execution_provider_unavailable', `${what}: ${e.name}: ${e.message}`);
    assert.match(e.message, /CUDA provider cannot be loaded \(no fallback to CPU\)/);
    return true;
  });
}

test('a cuda worker: preparation, training, the sample grid and sampling each fail with the provider error', { skip: hasDriver && 'this machine has an NVIDIA driver', timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'npo-provider-paths-'));
  const trainer = trainerOn('cuda', realTrainer);
  try {
    await providerError('encodeDatasetForModel', () =>
      trainer.encodeDatasetForModel({ modelDir: TINY_SD, datasetFile: join(ROOT, 'datasets/shapes-preferences.zip'), resolution: 16, outDir: join(dir, 'prepared') }));
    await providerError('trainAdapter', () =>
      trainer.trainAdapter({
        modelDir: TINY_MODEL, preparedDir: makePrepared(join(dir, 'p'), [2]), method: 'npo', workDir: join(dir, 'train'), threads: 1,
        hyperparameters: resolveHyperparameters({ steps: 1, batch_pairs: 2, resolution: 8, lora_rank: 4, lora_alpha: 4, seed: 1 }, { method: 'npo', model: { pixelSpace: false, sampleSize: 32 } }),
      }));
    await providerError('renderSampleGrid', () =>
      trainer.renderSampleGrid({ modelDir: TINY_SD, adapterPath: join(ROOT, 'packages/diffusion/test/fixtures/tiny-unet/lora/lora_init.safetensors'), method: 'npo', outDir: join(dir, 'grid') }));
    await providerError('renderSamples', () =>
      trainer.renderSamples({ modelDir: TINY_SD, prompts: ['a red circle'], seeds: [0], guidance: [5], steps: 2, outDir: join(dir, 'samples'), workDir: join(dir, 'samples-work') }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
