import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { centreCropPlan, decodeImage, defaultTimeIds, timeIdsVector } from '../src/index.ts';

/** A width×height PNG whose red channel is 8·x and green 8·y (mod 256): the crop can be read back from the pixels. */
async function gradientPng(width: number, height: number): Promise<Uint8Array> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      data[(y * width + x) * 3] = (8 * x) % 256;
      data[(y * width + x) * 3 + 1] = (8 * y) % 256;
    }
  return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

test('centreCropPlan: shorter side to R, longer truncated, offsets rounded half to even (torchvision Resize + CenterCrop)', () => {
  assert.deepEqual(centreCropPlan(40, 20, 10), { resizedWidth: 20, resizedHeight: 10, top: 0, left: 5 });
  assert.deepEqual(centreCropPlan(20, 40, 10), { resizedWidth: 10, resizedHeight: 20, top: 5, left: 0 });
  assert.deepEqual(centreCropPlan(25, 16, 16), { resizedWidth: 25, resizedHeight: 16, top: 0, left: 4 }, '4.5 rounds to 4');
  assert.deepEqual(centreCropPlan(27, 16, 16), { resizedWidth: 27, resizedHeight: 16, top: 0, left: 6 }, '5.5 rounds to 6');
  assert.deepEqual(centreCropPlan(1000, 333, 64), { resizedWidth: 192, resizedHeight: 64, top: 0, left: 64 }, '64·1000/333 = 192.19 truncates');
  assert.deepEqual(centreCropPlan(512, 512, 64), { resizedWidth: 64, resizedHeight: 64, top: 0, left: 0 });
});

test('decodeImage records SDXL time ids (original h, w; crop top, left; target R, R) of the crop it made, for several sizes', async () => {
  const cases: [w: number, h: number, R: number, expected: number[]][] = [
    [24, 16, 16, [16, 24, 0, 4, 16, 16]],
    [16, 24, 16, [24, 16, 4, 0, 16, 16]],
    [27, 16, 16, [16, 27, 0, 6, 16, 16]],
    [64, 32, 16, [32, 64, 0, 8, 16, 16]],
    [48, 48, 16, [48, 48, 0, 0, 16, 16]],
    [30, 90, 8, [90, 30, 8, 0, 8, 8]],
  ];
  for (const [w, h, R, expected] of cases) {
    const d = await decodeImage(await gradientPng(w, h), { resolution: R });
    assert.ok(d.ok, `${w}×${h}`);
    assert.deepEqual([...timeIdsVector(d.timeIds)], expected, `${w}×${h} at ${R}`);
  }
});

test('the recorded crop is the crop in the pixels: a 24×16 image at R = 16 keeps source columns 4…19', async () => {
  const d = await decodeImage(await gradientPng(24, 16), { resolution: 16 });
  assert.ok(d.ok);
  const red = (x: number, y: number) => Math.round((d.pixels[y * 16 + x] + 1) * 127.5);
  const green = (x: number, y: number) => Math.round((d.pixels[256 + y * 16 + x] + 1) * 127.5);
  for (const x of [0, 7, 15]) assert.equal(red(x, 3), 8 * (x + 4));
  for (const y of [0, 9, 15]) assert.equal(green(5, y), 8 * y);
});

test('sampling micro-conditioning defaults to original = target = the generated size, no crop', () => {
  assert.deepEqual([...defaultTimeIds(1024)], [1024, 1024, 0, 0, 1024, 1024]);
  assert.deepEqual([...defaultTimeIds(768, 1344)], [768, 1344, 0, 0, 768, 1344]);
});
