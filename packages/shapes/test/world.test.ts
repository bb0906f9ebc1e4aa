import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BACKGROUND, COLOURS, IMAGE_LENGTH, PIXELS, PROMPTS, Rng, ShapesError, getPrompt, promptIndexOf, promptIndexOfText,
  renderShape, sampleBatch, sampleScene, type Scene,
} from '../src/index.ts';

/** Set of "x,y" of pixels whose colour is not the background. */
function shapePixels(image: Float32Array): Set<string> {
  const out = new Set<string>();
  for (let p = 0; p < PIXELS; p++) {
    if ([0, 1, 2].some((c) => image[c * PIXELS + p] !== Math.fround(BACKGROUND[c]))) out.add(`${p % 16},${Math.floor(p / 16)}`);
  }
  return out;
}

function rowCount(pixels: Set<string>, y: number): number {
  return [...pixels].filter((k) => k.endsWith(`,${y}`)).length;
}

test('12 prompts in colour-major order', () => {
  assert.equal(PROMPTS.length, 12);
  assert.deepEqual(PROMPTS.slice(0, 4).map((p) => p.text), ['a red circle', 'a red square', 'a red triangle', 'a green circle']);
  assert.equal(PROMPTS[11].text, 'a yellow triangle');
  PROMPTS.forEach((p, i) => {
    assert.equal(p.index, i);
    assert.equal(promptIndexOf(p.colour, p.shape), i);
    assert.equal(promptIndexOfText(p.text), i);
  });
  assert.throws(() => getPrompt(12), (e: unknown) => e instanceof ShapesError && e.code === 'INVALID_PROMPT');
  assert.throws(() => promptIndexOfText('a purple circle'), (e: unknown) => e instanceof ShapesError && e.code === 'INVALID_PROMPT');
});

test('a red circle: CHW colours at the centre, background in the corner, 52 pixels for r = 4', () => {
  const image = renderShape({ colour: 'red', shape: 'circle', cx: 8, cy: 8, r: 4 });
  assert.equal(image.length, IMAGE_LENGTH);
  const centre = 8 * 16 + 8;
  assert.deepEqual([image[centre], image[PIXELS + centre], image[2 * PIXELS + centre]], COLOURS.red.map(Math.fround));
  assert.deepEqual([image[0], image[PIXELS], image[2 * PIXELS]], BACKGROUND.map(Math.fround));
  // pixel centres are at ±0.5, ±1.5, ±2.5, ±3.5 from (8, 8): 13 per quadrant satisfy dx² + dy² ≤ 16
  const pixels = shapePixels(image);
  assert.equal(pixels.size, 52);
  assert.ok(pixels.has('4,7') && !pixels.has('3,7')); // dx = −3.5 inside, −4.5 outside
  for (const v of image) assert.ok(v >= -1 && v <= 1);
});

test('a square of r = 4 spans |dx|, |dy| ≤ 3.4: a 6×6 block', () => {
  const pixels = shapePixels(renderShape({ colour: 'blue', shape: 'square', cx: 8, cy: 8, r: 4 }));
  assert.equal(pixels.size, 36);
  assert.ok(pixels.has('5,5') && pixels.has('10,10') && !pixels.has('4,8') && !pixels.has('11,8'));
});

test('the triangle points up: 2 pixels in its top row, 10 in its bottom row', () => {
  const pixels = shapePixels(renderShape({ colour: 'green', shape: 'triangle', cx: 8, cy: 8, r: 5 }));
  // rows are tested at y + 0.5: row 3 (dy = −4.5) is too narrow to hold a pixel centre, row 12 (dy = 4.5) is past 0.8 r
  assert.equal(rowCount(pixels, 3), 0);
  assert.equal(rowCount(pixels, 4), 2);
  assert.ok(pixels.has('7,4') && pixels.has('8,4'));
  assert.equal(rowCount(pixels, 11), 10);
  assert.equal(rowCount(pixels, 12), 0);
  for (let y = 5; y <= 11; y++) assert.ok(rowCount(pixels, y) >= rowCount(pixels, y - 1));
});

test('renderShape writes into a given buffer and refuses bad input', () => {
  const out = new Float32Array(IMAGE_LENGTH).fill(7);
  const scene: Scene = { colour: 'yellow', shape: 'circle', cx: 7, cy: 9, r: 3.5 };
  assert.equal(renderShape(scene, out), out);
  assert.deepEqual(out, renderShape(scene));
  assert.throws(() => renderShape(scene, new Float32Array(10)), (e: unknown) => e instanceof ShapesError && e.code === 'INVALID_IMAGE');
  assert.throws(() => renderShape({ ...scene, colour: 'pink' as never }), (e: unknown) => e instanceof ShapesError && e.code === 'INVALID_PROMPT');
  assert.throws(() => renderShape({ ...scene, r: NaN }), (e: unknown) => e instanceof ShapesError && e.code === 'INVALID_ARGUMENT');
});

test('sampleScene draws cx, cy in [6, 10) and r in [3.5, 5), deterministically', () => {
  const rng = new Rng(3);
  const scenes = Array.from({ length: 500 }, (_, i) => sampleScene(rng, i % 12));
  for (const s of scenes) {
    assert.ok(s.cx >= 6 && s.cx < 10 && s.cy >= 6 && s.cy < 10 && s.r >= 3.5 && s.r < 5);
  }
  assert.equal(scenes[5].colour, 'green');
  assert.equal(scenes[5].shape, 'triangle');
  const xs = scenes.map((s) => s.cx);
  assert.ok(Math.min(...xs) < 6.1 && Math.max(...xs) > 9.9);
  assert.deepEqual(sampleScene(new Rng(3), 0), scenes[0]);
  const replay = new Rng(3);
  const first = { cx: replay.uniform(6, 10), cy: replay.uniform(6, 10), r: replay.uniform(3.5, 5) };
  assert.deepEqual({ cx: scenes[0].cx, cy: scenes[0].cy, r: scenes[0].r }, first);
});

test('sampleBatch renders n random prompts and scenes, reproducibly', () => {
  const a = sampleBatch(new Rng(8), 64);
  const b = sampleBatch(new Rng(8), 64);
  assert.equal(a.images.length, 64 * IMAGE_LENGTH);
  assert.deepEqual(a.images, b.images);
  assert.deepEqual(a.promptIndices, b.promptIndices);
  assert.ok(new Set(a.promptIndices).size > 8);
  const rng = new Rng(8);
  const p0 = rng.int(12);
  assert.equal(a.promptIndices[0], p0);
  assert.deepEqual(a.images.subarray(0, IMAGE_LENGTH), renderShape(sampleScene(rng, p0)));
});
