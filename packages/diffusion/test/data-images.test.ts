import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { decodeBatch, decodeImage, decodedPixelHash, formatFromMagic } from '../src/data/index.ts';
import { colourImage } from './fixtures/data/make.ts';

const RED: [number, number, number] = [255, 0, 0];
const BLUE: [number, number, number] = [0, 0, 255];

function at(pixels: Float32Array, R: number, c: number, y: number, x: number): number {
  return pixels[c * R * R + y * R + x];
}

test('decodeImage: CHW float in [−1, 1], shorter side resized and centre-cropped', async () => {
  // 40×20: left half red, right half blue. Shorter side 20 → 10, width 40 → 20, centre crop keeps x ∈ [5, 15).
  const png = await colourImage('png', 40, 20, RED, BLUE);
  const out = await decodeImage(png, { resolution: 10 });
  assert.ok(out.ok);
  assert.equal(out.pixels.length, 3 * 10 * 10);
  assert.deepEqual([out.width, out.height], [40, 20]);
  assert.deepEqual([at(out.pixels, 10, 0, 3, 0), at(out.pixels, 10, 1, 3, 0), at(out.pixels, 10, 2, 3, 0)], [1, -1, -1]);
  assert.deepEqual([at(out.pixels, 10, 0, 3, 9), at(out.pixels, 10, 1, 3, 9), at(out.pixels, 10, 2, 3, 9)], [-1, -1, 1]);
  for (const v of out.pixels) assert.ok(v >= -1 && v <= 1);
});

test('decodeImage: JPEG, WebP and greyscale become 3-channel RGB', async () => {
  for (const format of ['jpeg', 'webp'] as const) {
    const out = await decodeImage(await colourImage(format, 16, 16, [0, 255, 0]), { resolution: 8 });
    assert.ok(out.ok, format);
    assert.ok(at(out.pixels, 8, 1, 4, 4) > 0.95 && at(out.pixels, 8, 0, 4, 4) < -0.95, format);
  }
  const grey = await sharp(Buffer.alloc(64, 128), { raw: { width: 8, height: 8, channels: 1 } }).toColourspace('b-w').png().toBuffer();
  assert.equal((await sharp(grey).metadata()).channels, 1);
  const out = await decodeImage(grey, { resolution: 4 });
  assert.ok(out.ok);
  assert.equal(out.pixels.length, 48);
});

test('decodeImage: transparency is flattened onto white by default, black on request', async () => {
  const clear = await sharp({ create: { width: 8, height: 8, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
  const white = await decodeImage(clear, { resolution: 4 });
  const black = await decodeImage(clear, { resolution: 4, background: 'black' });
  assert.ok(white.ok && black.ok);
  assert.ok(white.pixels.every((v) => v === 1));
  assert.ok(black.pixels.every((v) => v === -1));
});

test('decodeImage: reasons for bytes it cannot use', async () => {
  const garbage = await decodeImage(new TextEncoder().encode('definitely not an image'), { resolution: 4 });
  assert.deepEqual([garbage.ok, !garbage.ok && garbage.reason], [false, 'undecodable_image']);
  const empty = await decodeImage(new Uint8Array(0), { resolution: 4 });
  assert.deepEqual([empty.ok, !empty.ok && empty.reason], [false, 'empty_image']);
  const png = await colourImage('png', 100, 50, RED);
  const tooManyPixels = await decodeImage(png, { resolution: 4, maxPixels: 4999 });
  assert.deepEqual([tooManyPixels.ok, !tooManyPixels.ok && tooManyPixels.reason], [false, 'image_too_large']);
  assert.ok((await decodeImage(png, { resolution: 4, maxPixels: 5000 })).ok);
  const tooManyBytes = await decodeImage(png, { resolution: 4, maxBytes: png.length - 1 });
  assert.deepEqual([tooManyBytes.ok, !tooManyBytes.ok && tooManyBytes.reason], [false, 'image_too_large']);
  const truncated = await decodeImage(png.subarray(0, Math.floor(png.length / 2)), { resolution: 4 });
  assert.deepEqual([truncated.ok, !truncated.ok && truncated.reason], [false, 'undecodable_image']);
  const gif = await sharp({ create: { width: 4, height: 4, channels: 3, background: 'red' } }).gif().toBuffer();
  const unsupported = await decodeImage(gif, { resolution: 4 });
  assert.deepEqual([unsupported.ok, !unsupported.ok && unsupported.reason], [false, 'undecodable_image']);
});

test('decodedPixelHash: same picture in different bytes hashes equal, different pictures do not', async () => {
  const a = await colourImage('png', 12, 12, RED, BLUE, { pngLevel: 0 });
  const b = await colourImage('png', 12, 12, RED, BLUE, { pngLevel: 9 });
  const c = await colourImage('png', 12, 12, BLUE, RED);
  assert.notDeepEqual(a, b);
  const [ha, hb, hc] = await Promise.all([a, b, c].map((x) => decodedPixelHash(x)));
  assert.ok(ha.ok && hb.ok && hc.ok);
  assert.equal(ha.hash, hb.hash);
  assert.notEqual(ha.hash, hc.hash);
});

test('decodeBatch keeps input order under bounded concurrency', async () => {
  const colours: [number, number, number][] = Array.from({ length: 9 }, (_, i) => [i * 25, 255 - i * 25, 0]);
  const images = await Promise.all(colours.map((c) => colourImage('png', 6, 6, c)));
  images.splice(4, 0, new Uint8Array([1, 2, 3]));
  const out = await decodeBatch(images, { resolution: 2, concurrency: 3 });
  assert.equal(out.length, 10);
  assert.equal(out[4].ok, false);
  const reds = out.filter((o) => o.ok).map((o) => Math.round(((o as { pixels: Float32Array }).pixels[0] + 1) * 127.5));
  assert.deepEqual(reds, colours.map((c) => c[0]));
});

test('formatFromMagic recognises parquet, zip, tar, gzip and nothing else', () => {
  const head = (s: string, at = 0) => {
    const b = new Uint8Array(512);
    b.set(Buffer.from(s, 'latin1'), at);
    return b;
  };
  assert.deepEqual(formatFromMagic(head('PAR1')), { format: 'parquet', gzip: false });
  assert.deepEqual(formatFromMagic(head('PK\x03\x04')), { format: 'zip', gzip: false });
  assert.deepEqual(formatFromMagic(head('ustar', 257)), { format: 'tar', gzip: false });
  assert.deepEqual(formatFromMagic(head('\x1f\x8b\x08')), { format: 'tar', gzip: true });
  assert.equal(formatFromMagic(head('{"prompt"')), undefined);
});
