import { test } from 'node:test';
import assert from 'node:assert/strict';
import { learningRate } from '../src/index.ts';

test('learning rate: linear warm-up, then constant or cosine to zero at the last step', () => {
  assert.equal(learningRate(1, 1e-3, 4, 100, 'constant'), 2.5e-4);
  assert.equal(learningRate(4, 1e-3, 4, 100, 'constant'), 1e-3);
  assert.equal(learningRate(50, 1e-3, 4, 100, 'constant'), 1e-3);
  assert.equal(learningRate(4, 1e-3, 4, 100, 'cosine'), 1e-3);
  assert.ok(Math.abs(learningRate(52, 1e-3, 4, 100, 'cosine') - 5e-4) < 1e-12, 'half way through the decay');
  assert.ok(Math.abs(learningRate(100, 1e-3, 4, 100, 'cosine')) < 1e-15);
  assert.equal(learningRate(1, 1e-3, 0, 100, 'constant'), 1e-3, 'no warm-up');
});
