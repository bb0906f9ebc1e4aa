import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveHyperparameters } from '@npo/contracts';
import { estimateStepMemory, parseUNetConfig, stepSpecFromConfig } from '@npo/diffusion';
import { trainAdapter } from '../src/index.ts';
import { makePrepared, TINY_MODEL } from './helpers.ts';

test('a job over the memory budget is refused before compiling: job_too_large, not retryable, with the estimate, the budget and the batch_pairs that fits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'npo-too-large-'));
  try {
    const hp = resolveHyperparameters({ steps: 1, batch_pairs: 8, resolution: 8, lora_rank: 4, lora_alpha: 4, seed: 1 }, { method: 'npo', model: { pixelSpace: false, sampleSize: 32 } });
    const run = (memoryBudgetMb: number) => trainAdapter({ modelDir: TINY_MODEL, preparedDir: makePrepared(join(dir, 'p'), [8]), method: 'npo', workDir: join(dir, `train-${memoryBudgetMb}`), threads: 1, hyperparameters: hp, memoryBudgetMb });
    // below the runtime itself: nothing fits, not even one pair
    await assert.rejects(run(64), (e: Error & { code?: string; retryable?: boolean }) => {
      assert.equal(e.code, 'job_too_large');
      assert.equal(e.retryable, false);
      assert.match(e.message, /^one training step needs an estimated \d+ MB even with every block checkpointed; the worker's memory budget is 64 MB \(MEMORY_BUDGET_MB\): even batch_pairs 1 does not fit: lower resolution \(now 8\)$/);
      return true;
    });
    // a budget that one pair fits but eight do not: the advice names the batch and the accumulation that keep 8 pairs a step
    const config = parseUNetConfig(JSON.parse(readFileSync(join(TINY_MODEL, 'unet/config.json'), 'utf8')));
    const blocksMb = (pairs: number) => estimateStepMemory(stepSpecFromConfig({ config, weightsDtype: 'float32', pairs, latentShape: [4, 8, 8], embedShape: [7, 32], lora: { rank: 4, alpha: 4, targets: hp.lora_targets } }), 'blocks').totalBytes / 2 ** 20;
    const budget = Math.ceil(blocksMb(1));
    assert.ok(blocksMb(8) > budget, `8 pairs (${blocksMb(8)} MB) must exceed ${budget} MB`);
    await assert.rejects(run(budget), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'job_too_large', e.message);
      assert.match(e.message, /lower batch_pairs from 8 to (\d) and set gradient_accumulation_steps to \d+ to keep 8 pairs per optimizer step$/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
