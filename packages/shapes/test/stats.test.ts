import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapMeanInterval, mean, pairedDifferences, quantileSorted, Rng, sampleStd, ShapesError, standardError, winRate } from '../src/index.ts';

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('mean, sample std and standard error against hand-computed values', () => {
  // [1, 2, 3, 4]: mean 2.5, squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5, variance 5/3
  close(mean([1, 2, 3, 4]), 2.5);
  close(sampleStd([1, 2, 3, 4]), Math.sqrt(5 / 3));
  close(standardError([1, 2, 3, 4]), Math.sqrt(5 / 3) / 2);
  close(standardError(Float64Array.of(-0.5, -0.5, -0.5)), 0);
  assert.throws(() => mean([]), (e: unknown) => e instanceof ShapesError && e.code === 'INVALID_ARGUMENT');
  assert.throws(() => standardError([1]), (e: unknown) => e instanceof ShapesError);
  assert.throws(() => mean([1, NaN]), (e: unknown) => e instanceof ShapesError);
});

test('paired differences are b − a; win rate counts b > a, ties half', () => {
  assert.deepEqual(Array.from(pairedDifferences([1, 2, 3, 4], [2, 2, 1, 5])), [1, 0, -2, 1]);
  close(winRate([1, 2, 3, 4], [2, 2, 1, 5]), 2.5 / 4);
  assert.throws(() => pairedDifferences([1, 2], [1]), (e: unknown) => e instanceof ShapesError && e.code === 'INVALID_ARGUMENT');
});

test('quantiles interpolate linearly between order statistics (numpy default)', () => {
  close(quantileSorted([1, 2, 3, 4], 0.25), 1.75);
  close(quantileSorted([1, 2, 3, 4], 0.5), 2.5);
  close(quantileSorted([1, 2, 3, 4], 1), 4);
  close(quantileSorted([10, 20], 0.025), 10.25);
});

test('bootstrap interval: exact for degenerate cases, ≈ mean ± 1.96 SE for a large sample, reproducible', () => {
  assert.deepEqual(bootstrapMeanInterval([0.3, 0.3, 0.3]), [0.3, 0.3]);
  // two values: resampled means are 0, ½, 1 with probabilities ¼, ½, ¼, so the 2.5% / 97.5% quantiles are 0 and 1
  assert.deepEqual(bootstrapMeanInterval([0, 1], { resamples: 4000 }), [0, 1]);
  const values = new Rng(12).fillNormal(new Float64Array(1000), 0.02, 0.05);
  const [lo, hi] = bootstrapMeanInterval(values, { seed: 1 });
  const m = mean(values);
  const se = standardError(values);
  assert.ok(lo < m && m < hi);
  close(lo, m - 1.96 * se, 0.25 * se);
  close(hi, m + 1.96 * se, 0.25 * se);
  assert.deepEqual(bootstrapMeanInterval(values, { seed: 1 }), [lo, hi]);
  assert.notDeepEqual(bootstrapMeanInterval(values, { seed: 2 }), [lo, hi]);
  assert.throws(() => bootstrapMeanInterval(values, { level: 1 }), (e: unknown) => e instanceof ShapesError);
});
