import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { chwToRgbHwc, gridRaster, renderShape, rgbHwcToChw, Rng, ShapesError, writePngGrid } from '../src/index.ts';

test('CHW floats ↔ HWC bytes', () => {
  const image = renderShape({ colour: 'red', shape: 'circle', cx: 8, cy: 8, r: 4 });
  const rgb = chwToRgbHwc(image);
  const centre = (8 * 16 + 8) * 3;
  assert.deepEqual(Array.from(rgb.subarray(centre, centre + 3)), [242, 25, 25]);
  assert.deepEqual(Array.from(rgb.subarray(0, 3)), [64, 64, 64]);
  const bytes = new Uint8Array(768);
  const rng = new Rng(6);
  for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(256);
  assert.deepEqual(chwToRgbHwc(rgbHwcToChw(bytes)), bytes);
  assert.equal(rgbHwcToChw(bytes)[1 * 256], Math.fround((bytes[1] / 255) * 2 - 1)); // channel 1 of pixel 0
  assert.throws(() => chwToRgbHwc(new Float32Array(100)), (e: unknown) => e instanceof ShapesError && e.code === 'INVALID_IMAGE');
});

test('writePngGrid writes a nearest-neighbour upscaled grid with gaps', async () => {
  const red = renderShape({ colour: 'red', shape: 'square', cx: 8, cy: 8, r: 4 });
  const blue = renderShape({ colour: 'blue', shape: 'triangle', cx: 8, cy: 8, r: 5 });
  const rows = [[red, blue], [blue]];
  const scale = 3;
  const gap = 1;
  const { width, height } = gridRaster(rows, scale);
  assert.equal(width, 2 * 48 + 3 * gap);
  assert.equal(height, 2 * 48 + 3 * gap);
  const dir = mkdtempSync(join(tmpdir(), 'shapes-grid-'));
  try {
    const path = join(dir, 'grid.png');
    await writePngGrid(path, rows, scale);
    const { data, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height, info.channels], [width, height, 3]);
    const at = (x: number, y: number) => Array.from(data.subarray((y * width + x) * 3, (y * width + x) * 3 + 3));
    assert.deepEqual(at(0, 0), [255, 255, 255]); // gap
    assert.deepEqual(at(gap + 8 * scale + 1, gap + 8 * scale + 2), [242, 25, 25]); // inside the red square, upscaled
    assert.deepEqual(at(gap, gap), [64, 64, 64]); // background corner of the first cell
    const secondCell = gap + 48 + gap;
    assert.deepEqual(at(secondCell + 8 * scale, gap + 10 * scale), [25, 25, 242]); // blue triangle body
    assert.deepEqual(at(secondCell + 10, secondCell + 10), [255, 255, 255]); // row 2 is short: padded
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
