import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBenchArgs, summarize } from '../cli-args.ts';
import { getWorkload } from '../workloads.ts';

test('parseBenchArgs reads the workload and options, defaulting to 1 thread and the Session default optimization level', () => {
  assert.deepEqual(parseBenchArgs(['sd15s', '--threads', '2', '--steps', '3']), {
    workload: 'sd15s', threads: 2, steps: 3, optimization: undefined, lossesOut: undefined, prepareOnly: false, baseline: 'diffusers', plan: 'attention', pairs: undefined, precision: 'fp32', rounds: 1,
  });
  assert.equal(parseBenchArgs(['sd15s', '--rounds', '3']).rounds, 3);
  assert.throws(() => parseBenchArgs(['sd15s', '--rounds', '0']), /--rounds needs a positive integer/);
  assert.equal(parseBenchArgs(['sd15', '--precision', 'fp16']).precision, 'fp16');
  assert.equal(parseBenchArgs(['sd15s', '--plan', 'keep']).plan, 'keep');
  assert.equal(parseBenchArgs(['sd15s', '--pairs', '2']).pairs, 2);
  assert.throws(() => parseBenchArgs(['sd15s', '--plan', 'all']), /--plan must be one of keep, attention, blocks, got 'all'/);
  assert.equal(parseBenchArgs(['sd15', '--baseline', 'torch1']).baseline, 'torch1');
  assert.equal(parseBenchArgs(['tiny']).threads, 1);
  assert.equal(parseBenchArgs(['tiny', '--opt', 'basic']).optimization, 'basic');
});

test('parseBenchArgs rejects bad input with a message naming what to fix', () => {
  assert.throws(() => parseBenchArgs(['tiny', '--threads', '0']), /--threads needs a positive integer, got '0'/);
  assert.throws(() => parseBenchArgs(['tiny', '--steps']), /--steps needs a positive integer/);
  assert.throws(() => parseBenchArgs(['tiny', '--opt', 'max']), /--opt must be one of/);
  assert.throws(() => parseBenchArgs(['tiny', '--fast']), /unknown option --fast/);
  assert.throws(() => parseBenchArgs(['tiny', '--baseline', 'jax']), /--baseline must be diffusers or torch1, got 'jax'/);
  assert.throws(() => parseBenchArgs(['tiny', 'sd15s']), /unexpected argument 'sd15s'/);
  assert.throws(() => parseBenchArgs(['tiny', '--precision', 'fp8']), /--precision must be one of fp32, fp16, bf16, got 'fp8'/);
  assert.throws(() => getWorkload('sd21'), /unknown workload 'sd21': choose one of tiny, sd15s, sd15s-f16, sd15, sd15-256/);
});

test('summarize reports median (even and odd counts), min, max and RSS in MB', () => {
  assert.deepEqual(summarize('tiny', 2, [30, 10, 20], 2048), { workload: 'tiny', threads: 2, ms_median: 20, ms_min: 10, ms_max: 30, peak_rss_mb: 2 });
  assert.equal(summarize('tiny', 1, [4, 1, 3, 2], 1024).ms_median, 2.5);
});
