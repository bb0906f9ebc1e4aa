import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  API_HYPERPARAMETER_NAMES, HYPERPARAMETER_NAMES, HyperparameterError, HyperparametersInput, InputError, hyperparameterTableMarkdown,
  resolveHyperparameters, resolutionProblem, storedHyperparameters, apiHyperparameters,
} from '../src/index.ts';

const latent = { pixelSpace: false, sampleSize: 64 };
const pixel = { pixelSpace: true, sampleSize: 32 };

test('defaults follow the reference runs and depend on method and model', () => {
  const npo = resolveHyperparameters({}, { method: 'npo', model: latent });
  assert.deepEqual(npo, {
    steps: 400, batch_pairs: 1, gradient_accumulation_steps: 16, learning_rate: 1e-5, beta: 1000, lora_rank: 8, lora_alpha: 8, lora_targets: 'attn',
    warmup_steps: 10, lr_schedule: 'constant', max_grad_norm: 1, resolution: 512, checkpoint_every: 50, seed: 0, precision: 'fp32', weight_decay: 1e-2, prompt_dropout: 0,
  });
  assert.equal(resolveHyperparameters({ precision: 'fp16' }, { method: 'npo', model: latent }).precision, 'fp16');
  assert.throws(() => resolveHyperparameters({ precision: 'fp8' as 'fp16' }, { method: 'npo', model: latent }), /precision must be one of "fp32", "fp16", "bf16", got "fp8"/);
  assert.equal(resolveHyperparameters({}, { method: 'dpo', model: latent }).beta, 5000);
  assert.equal(resolveHyperparameters({}, { method: 'npo', model: pixel }).resolution, 32);
  // 16 pairs per optimizer step by default: pixel-space models in one micro-batch, latent models one pair at a time
  const px = resolveHyperparameters({}, { method: 'npo', model: pixel });
  assert.deepEqual([px.batch_pairs, px.gradient_accumulation_steps], [16, 1]);
  const given = resolveHyperparameters({ batch_pairs: 4 }, { method: 'npo', model: latent });
  assert.deepEqual([given.batch_pairs, given.gradient_accumulation_steps], [4, 1]);
});

test('derived defaults follow what was given: alpha from the rank, warm-up from the steps', () => {
  const given = resolveHyperparameters({ beta: 7, lora_rank: 16, steps: 3 }, { method: 'npo', model: pixel });
  assert.equal(given.beta, 7);
  assert.equal(given.lora_alpha, 16);
  assert.equal(given.steps, 3);
  assert.equal(given.warmup_steps, 3, 'the default warm-up never exceeds the run');
  assert.equal(resolveHyperparameters({ steps: 6 }, { method: 'npo', model: pixel }).warmup_steps, 6);
  assert.equal(resolveHyperparameters({ steps: 11 }, { method: 'npo', model: pixel }).warmup_steps, 10);
});

test('only values the caller gave are refused, with the field named', () => {
  const refuses = (given: object, field: string, message: RegExp) =>
    assert.throws(() => resolveHyperparameters(given, { method: 'npo', model: pixel }), (e: unknown) =>
      e instanceof HyperparameterError && e instanceof InputError && !e.retryable && e.status === 400 && e.code === 'validation_error'
      && e.details.field === `body.hyperparameters.${field}` && message.test(e.message), JSON.stringify(given));
  refuses({ steps: 5, warmup_steps: 10 }, 'warmup_steps', /^hyperparameters\.warmup_steps \(10\) must not exceed steps \(5\)$/);
  refuses({ warmup_steps: 500 }, 'warmup_steps', /must not exceed steps \(400\)/);
  refuses({ resolution: 64 }, 'resolution', /^hyperparameters\.resolution must be 32 for this pixel-space model/);
  refuses({ steps: 0 }, 'steps', /steps must be >= 1, got 0/);
  refuses({ steps: 2.5 }, 'steps', /steps must be an integer/);
  refuses({ learning_rate: Number.NaN }, 'learning_rate', /must be a finite number/);
  refuses({ beta: 0 }, 'beta', /beta must be > 0/);
  refuses({ lr_schedule: 'linear' }, 'lr_schedule', /must be one of "constant", "cosine"/);
  refuses({ prompt_dropout: 1.5 }, 'prompt_dropout', /prompt_dropout must be <= 1/);
  refuses({ resolution: 12 }, 'resolution', /multiple of 8/);
  refuses({ stepz: 1 }, 'stepz', /not a known hyperparameter/);
  assert.equal(resolutionProblem(768, latent), null);
});

test('the job body schema is generated from the table: exposed fields only, ranges and defaults in the description', () => {
  const schema = HyperparametersInput as unknown as { properties: Record<string, { minimum?: number; maximum?: number; description: string }>; additionalProperties: boolean };
  assert.deepEqual(Object.keys(schema.properties), API_HYPERPARAMETER_NAMES);
  assert.ok(!('weight_decay' in schema.properties) && HYPERPARAMETER_NAMES.includes('weight_decay'));
  assert.equal(schema.additionalProperties, false);
  assert.deepEqual(schema.properties.steps, { type: 'integer', minimum: 1, maximum: 100000, description: 'optimizer steps (default 400)' });
  assert.equal(schema.properties.beta.description, 'DPO β in the β/2 form (default 1000 for npo, 5000 for dpo)');
  assert.equal(schema.properties.learning_rate.description, 'AdamW learning rate (default 1e-5)');
});

test('a stored set is complete or refused; the API shows only the exposed values', () => {
  const hp = resolveHyperparameters({}, { method: 'npo', model: latent });
  assert.deepEqual(storedHyperparameters(JSON.parse(JSON.stringify(hp))), hp);
  const { weight_decay: _, ...partial } = hp;
  assert.throws(() => storedHyperparameters(partial), /weight_decay is missing/);
  assert.deepEqual(Object.keys(apiHyperparameters(hp)), API_HYPERPARAMETER_NAMES);
});

test('the README shows the table as generated', async () => {
  const { readFileSync } = await import('node:fs');
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  assert.ok(readme.includes(hyperparameterTableMarkdown()), 'README.md: paste the output of `npm run -s hyperparameters:table` into its hyperparameter section');
});

test('lora_targets: a preset or distinct module names; names no UNet Linear layer can have are refused with their own code', () => {
  const ctx = { method: 'npo' as const, model: { pixelSpace: false, sampleSize: 64 } };
  assert.deepEqual(resolveHyperparameters({ lora_targets: ['attn2.to_k', 'ff.net.2'] }, ctx).lora_targets, ['attn2.to_k', 'ff.net.2']);
  assert.equal(resolveHyperparameters({ lora_targets: 'all-linear' }, ctx).lora_targets, 'all-linear');
  for (const bad of ['attn+mlp', [], ['to_q', 'to_q'], [5]]) {
    const err = (() => { try { resolveHyperparameters({ lora_targets: bad as never }, ctx); } catch (e) { return e as HyperparameterError; } })();
    assert.ok(err instanceof HyperparameterError, JSON.stringify(bad));
    assert.equal(err.code, 'validation_error');
  }
  const err = (() => { try { resolveHyperparameters({ lora_targets: ['to_q', 'attn1'] }, ctx); } catch (e) { return e as HyperparameterError; } })();
  assert.equal(err?.code, 'unknown_target_modules');
  assert.deepEqual(err?.details, { field: 'body.hyperparameters.lora_targets', unknown: ['attn1'] });
});
