import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HyperparameterError, learningRate, resolveHyperparameters } from '../src/index.ts';

test('learning rate: linear warm-up, then constant or cosine to zero at the last step', () => {
  assert.equal(learningRate(1, 1e-3, 4, 100, 'constant'), 2.5e-4);
  assert.equal(learningRate(4, 1e-3, 4, 100, 'constant'), 1e-3);
  assert.equal(learningRate(50, 1e-3, 4, 100, 'constant'), 1e-3);
  assert.equal(learningRate(4, 1e-3, 4, 100, 'cosine'), 1e-3);
  assert.ok(Math.abs(learningRate(52, 1e-3, 4, 100, 'cosine') - 5e-4) < 1e-12, 'half way through the decay');
  assert.ok(Math.abs(learningRate(100, 1e-3, 4, 100, 'cosine')) < 1e-15);
  assert.equal(learningRate(1, 1e-3, 0, 100, 'constant'), 1e-3, 'no warm-up');
});

test('hyperparameters: method-dependent defaults, every field range-checked with the field named', () => {
  assert.equal(resolveHyperparameters('npo', 512).beta, 1000);
  assert.equal(resolveHyperparameters('dpo', 512).beta, 5000);
  assert.equal(resolveHyperparameters('npo', 16, { steps: 7 }).steps, 7);
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ steps: 0 }, /^steps: must be between 1/],
    [{ steps: 2.5 }, /^steps: must be an integer/],
    [{ learning_rate: Number.NaN }, /^learning_rate: must be a finite number/],
    [{ beta: Infinity }, /^beta: must be a finite number/],
    [{ lora_rank: -1 }, /^lora_rank: must be between/],
    [{ lr_schedule: 'linear' }, /^lr_schedule: must be "constant" or "cosine"/],
    [{ prompt_dropout: 1.5 }, /^prompt_dropout: must be between 0 and 1/],
  ];
  for (const [given, message] of bad)
    assert.throws(() => resolveHyperparameters('npo', 16, given as never), (e: Error) => e instanceof HyperparameterError && message.test(e.message), JSON.stringify(given));
});
