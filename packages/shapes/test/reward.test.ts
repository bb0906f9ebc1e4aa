import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  IMAGE_LENGTH, PROMPTS, Rng, ShapesError, TEMPLATES_PER_PROMPT, TEMPLATE_GRID, bruteForceReward, promptIndexOf,
  promptTemplates, quantiseValue, renderShape, reward, rewardBatch, rewardDetail, rewardOfBytes, quantiseImage,
  sampleScene, templateScenes,
} from '../src/index.ts';

test('quantisation: round((clamp(v) + 1) / 2 · 255)', () => {
  assert.equal(quantiseValue(-1), 0);
  assert.equal(quantiseValue(1), 255);
  assert.equal(quantiseValue(-7), 0);
  assert.equal(quantiseValue(3), 255);
  assert.equal(quantiseValue(Math.fround(-0.5)), 64);
  assert.equal(quantiseValue(Math.fround(0.9)), 242);
  assert.equal(quantiseValue(Math.fround(-0.8)), 25);
  assert.equal(quantiseValue(0), 128);
});

test('567 templates per prompt on the documented grid', () => {
  assert.equal(TEMPLATES_PER_PROMPT, 567);
  assert.deepEqual(TEMPLATE_GRID.cx, [6, 6.5, 7, 7.5, 8, 8.5, 9, 9.5, 10]);
  assert.deepEqual(TEMPLATE_GRID.r, [3.5, 3.75, 4, 4.25, 4.5, 4.75, 5]);
  for (const p of [0, 7, 11]) {
    const scenes = templateScenes(p);
    assert.equal(scenes.length, 567);
    assert.equal(promptTemplates(p).length, 567 * IMAGE_LENGTH);
    assert.deepEqual(scenes[1], { colour: PROMPTS[p].colour, shape: PROMPTS[p].shape, cx: 6, cy: 6, r: 3.75 });
    assert.equal(promptTemplates(p), promptTemplates(p)); // cached, not recomputed
  }
});

test('a clean rendering at grid parameters scores exactly 0 and finds its own template', () => {
  const rng = new Rng(1);
  for (let p = 0; p < 12; p++) {
    const scenes = templateScenes(p);
    const k = rng.int(scenes.length);
    const image = renderShape(scenes[k]);
    assert.equal(reward(image, p), 0);
    const detail = rewardDetail(image, p);
    assert.equal(detail.reward, 0);
    // another template may render to the very same pixels; it must then be byte-identical
    assert.deepEqual(renderShape(detail.scene), image);
  }
});

test('clean renderings at random (off-grid) parameters score a little below 0', () => {
  const rng = new Rng(2);
  const scores: number[] = [];
  for (let i = 0; i < 240; i++) {
    const p = i % 12;
    scores.push(reward(renderShape(sampleScene(rng, p)), p));
  }
  const mean = scores.reduce((a, b) => a + b) / scores.length;
  for (const s of scores) assert.ok(s <= 0 && s > -0.05, `score ${s}`);
  assert.ok(mean < -0.001 && mean > -0.015, `mean ${mean}`);
});

test('the wrong colour scores far lower (below −0.05); the wrong shape clearly lower', () => {
  const rng = new Rng(3);
  const right: number[] = [];
  const wrongShape: number[] = [];
  for (let i = 0; i < 120; i++) {
    const p = i % 12;
    const { colour, shape } = PROMPTS[p];
    const image = renderShape(sampleScene(rng, p));
    right.push(reward(image, p));
    for (const other of PROMPTS) {
      if (other.shape === shape && other.colour !== colour) assert.ok(reward(image, other.index) < -0.05);
      if (other.colour === colour && other.shape !== shape) wrongShape.push(reward(image, other.index));
    }
  }
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b) / xs.length;
  assert.ok(Math.max(...wrongShape) < -0.005, `best wrong-shape score ${Math.max(...wrongShape)}`);
  assert.ok(avg(wrongShape) < avg(right) - 0.02, `wrong shape ${avg(wrongShape)} vs right ${avg(right)}`);
  // a triangle read as a circle: far from every circle template
  const triangle = renderShape({ colour: 'red', shape: 'triangle', cx: 8, cy: 8, r: 5 });
  assert.ok(reward(triangle, promptIndexOf('red', 'circle')) < -0.03);
  assert.ok(reward(triangle, promptIndexOf('green', 'triangle')) < -0.2);
});

test('the fast reward equals the brute-force definition on noisy and random images', () => {
  const rng = new Rng(4);
  for (let i = 0; i < 24; i++) {
    const p = i % 12;
    const image = renderShape(sampleScene(rng, (p + (i % 3)) % 12));
    const noise = rng.fillNormal(new Float32Array(IMAGE_LENGTH), 0, i < 12 ? 0.3 : 1.5);
    for (let j = 0; j < IMAGE_LENGTH; j++) image[j] += noise[j];
    const fast = reward(image, p);
    const slow = bruteForceReward(image, p);
    assert.ok(Math.abs(fast - slow) < 1e-12, `${fast} vs ${slow}`);
  }
});

test('values outside [−1, 1] are clamped before scoring', () => {
  const image = renderShape({ colour: 'blue', shape: 'square', cx: 8, cy: 8, r: 4 });
  const loud = image.map((v) => v * 3);
  const p = promptIndexOf('blue', 'square');
  const clamped = loud.map((v) => Math.max(-1, Math.min(1, v)));
  assert.equal(reward(loud, p), reward(clamped, p));
  assert.notEqual(reward(loud, p), 0);
});

test('rewardBatch matches per-image rewards; bytes score like floats; bad input is refused', () => {
  const rng = new Rng(5);
  const n = 30;
  const images = new Float32Array(n * IMAGE_LENGTH);
  rng.fillNormal(images, 0, 0.4);
  const prompts = Int32Array.from({ length: n }, () => rng.int(12));
  for (let i = 0; i < n; i++) {
    const clean = renderShape(sampleScene(rng, prompts[i]));
    for (let j = 0; j < IMAGE_LENGTH; j++) images[i * IMAGE_LENGTH + j] += clean[j];
  }
  const batch = rewardBatch(images, prompts);
  const single = rewardBatch(images, 4);
  for (let i = 0; i < n; i++) {
    const image = images.subarray(i * IMAGE_LENGTH, (i + 1) * IMAGE_LENGTH);
    assert.equal(batch[i], reward(image, prompts[i]));
    assert.equal(single[i], reward(image, 4));
    assert.equal(rewardOfBytes(quantiseImage(image), prompts[i]), batch[i]);
  }
  const isCode = (code: string) => (e: unknown) => e instanceof ShapesError && e.code === code;
  assert.throws(() => rewardBatch(new Float32Array(100), 0), isCode('INVALID_IMAGE'));
  assert.throws(() => rewardBatch(images, [1, 2]), isCode('INVALID_ARGUMENT'));
  assert.throws(() => rewardBatch(images.subarray(0, IMAGE_LENGTH), [12]), isCode('INVALID_PROMPT'));
  assert.throws(() => reward(new Float32Array(IMAGE_LENGTH), -1), isCode('INVALID_PROMPT'));
});
