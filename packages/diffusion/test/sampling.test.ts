import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alphasCumprod, ddimStep, EulerSampler, inferenceTimesteps, SD15_SCHEDULER, type SchedulerConfig } from '../src/index.ts';

const linear: SchedulerConfig = { ...SD15_SCHEDULER, beta_schedule: 'linear', beta_start: 1e-4, beta_end: 0.02, clip_sample: true, set_alpha_to_one: true };

test('inference timesteps follow diffusers spacing conventions', () => {
  assert.deepEqual(inferenceTimesteps(SD15_SCHEDULER, 4), [751, 501, 251, 1]);
  assert.deepEqual(inferenceTimesteps(linear, 20).slice(0, 3), [951, 901, 851]);
  assert.equal(inferenceTimesteps(linear, 20).at(-1), 1);
  assert.deepEqual(inferenceTimesteps({ ...SD15_SCHEDULER, timestep_spacing: 'trailing' }, 4), [999, 749, 499, 249]);
  assert.deepEqual(inferenceTimesteps({ ...SD15_SCHEDULER, timestep_spacing: 'linspace' }, 4), [999, 666, 333, 0]);
  assert.throws(() => inferenceTimesteps(SD15_SCHEDULER, 0), /between 1 and 1000/);
});

test('DDIM with clip_sample clamps x0 and re-derives eps from it (use_clipped_model_output)', () => {
  const acp = alphasCumprod(linear);
  const t = 951;
  const sample = Float32Array.from([3, -0.2]);
  const eps = Float32Array.from([-2, 0.1]);
  const { prevSample, predOriginal } = ddimStep(linear, acp, 20, t, sample, eps);
  const a = acp[t];
  const aPrev = acp[t - 50];
  const x0raw = (3 - Math.sqrt(1 - a) * -2) / Math.sqrt(a);
  assert.ok(x0raw > 1, 'this case needs clipping');
  assert.equal(predOriginal[0], 1);
  const epsClipped = (3 - Math.sqrt(a) * 1) / Math.sqrt(1 - a);
  assert.ok(Math.abs(prevSample[0] - (Math.sqrt(aPrev) * 1 + Math.sqrt(1 - aPrev) * epsClipped)) < 1e-5);
  // Inside the range nothing changes: eps is the model's.
  const inRange = ddimStep(linear, acp, 20, 51, Float32Array.from([-0.2]), Float32Array.from([0.1]));
  const [a2, a2Prev] = [acp[51], acp[1]];
  const x0b = (-0.2 - Math.sqrt(1 - a2) * 0.1) / Math.sqrt(a2);
  assert.ok(Math.abs(x0b) < 1);
  assert.ok(Math.abs(inRange.predOriginal[0] - x0b) < 1e-6);
  assert.ok(Math.abs(inRange.prevSample[0] - (Math.sqrt(a2Prev) * x0b + Math.sqrt(1 - a2Prev) * 0.1)) < 1e-5);
  // The last step (t = 1, prev < 0) ends on ᾱ_prev = 1 when set_alpha_to_one: the sample becomes x0.
  const last = ddimStep(linear, acp, 20, 1, Float32Array.from([0.3]), Float32Array.from([0.5]));
  assert.ok(Math.abs(last.prevSample[0] - last.predOriginal[0]) < 1e-7);
});

test('Euler: σ-scaled input, x0 = x − σ·eps, and the final step lands on x0', () => {
  const acp = alphasCumprod(SD15_SCHEDULER);
  const ts = inferenceTimesteps(SD15_SCHEDULER, 4);
  const e = new EulerSampler(SD15_SCHEDULER, acp, ts);
  const sigma = Math.sqrt((1 - acp[751]) / acp[751]);
  assert.ok(Math.abs(e.sigmas[0] - sigma) < 1e-9);
  assert.ok(Math.abs(e.initNoiseSigma - Math.sqrt(sigma ** 2 + 1)) < 1e-9);
  assert.ok(Math.abs(e.scaleInput(Float32Array.from([2]), 0)[0] - 2 / Math.sqrt(sigma ** 2 + 1)) < 1e-6);
  const x = Float32Array.from([1.5]);
  const eps = Float32Array.from([0.4]);
  const step = e.step(3, x, eps);
  assert.ok(Math.abs(step.predOriginal[0] - (1.5 - e.sigmas[3] * 0.4)) < 1e-6);
  assert.ok(Math.abs(step.prevSample[0] - step.predOriginal[0]) < 1e-6, 'σ_next = 0 at the end');
});
