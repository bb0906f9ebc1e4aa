import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Preparation } from '@npo/contracts';
import { PreparationProgress } from '../src/preparation-progress.ts';

test('preparation progress: at most one write a second, percent of the total, ETA from the rate since the first batch', async () => {
  const rows: NonNullable<Preparation>[] = [];
  let clock = 0;
  const progress = new PreparationProgress({ preparation: async (p) => { rows.push(p); } }, 1000, 1000, () => clock);
  progress.report(200); // 200 pairs kept from an interrupted run, first batch: no rate yet
  clock = 500;
  progress.report(250); // within the second: not written
  clock = 2000;
  progress.report(400); // 200 fresh pairs in 2 s → 600 left take 6 s
  await progress.flushed();
  assert.deepEqual(rows, [
    { pairs_done: 200, pairs_total: 1000, percent: 20, eta_seconds: null, source: 'encoding' },
    { pairs_done: 400, pairs_total: 1000, percent: 40, eta_seconds: 6, source: 'encoding' },
  ]);
});

test('preparation progress without a known total, and a failing write that does not fail preparation', async () => {
  let clock = 0;
  const rows: NonNullable<Preparation>[] = [];
  const progress = new PreparationProgress({ preparation: async (p) => { if (p.pairs_done === 10) throw new Error('db down'); rows.push(p); } }, undefined, 1000, () => clock);
  progress.report(10);
  clock = 1000;
  progress.report(30, undefined);
  await progress.flushed();
  assert.deepEqual(rows, [{ pairs_done: 30, pairs_total: null, percent: null, eta_seconds: null, source: 'encoding' }]);
});
