import sharp from 'sharp';
import { ShapesError } from './errors.ts';
import { dequantiseValue, quantiseValue } from './quantise.ts';
import { CHANNELS } from './world.ts';

/**
 * Conversions between the model's CHW float images in [−1, 1] and 8-bit RGB HWC (what PNG encoders and the
 * stored preference samples use), with the quantisation of quantise.ts, and a PNG grid writer for reports.
 */

function sideOf(length: number, what: string): number {
  const side = Math.round(Math.sqrt(length / CHANNELS));
  if (side < 1 || side * side * CHANNELS !== length) {
    throw new ShapesError('INVALID_IMAGE', `${what} must be a square 3-channel image (3·s·s values), got ${length} values`);
  }
  return side;
}

/** CHW floats in [−1, 1] (values outside are clamped) → HWC uint8 RGB. The image must be square. */
export function chwToRgbHwc(chw: Float32Array): Uint8Array {
  const side = sideOf(chw.length, 'CHW image');
  const pixels = side * side;
  const out = new Uint8Array(chw.length);
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < CHANNELS; c++) out[p * CHANNELS + c] = quantiseValue(chw[c * pixels + p]);
  }
  return out;
}

/** HWC uint8 RGB → CHW floats (byte / 255 · 2 − 1). The image must be square. */
export function rgbHwcToChw(hwc: Uint8Array): Float32Array {
  const side = sideOf(hwc.length, 'HWC image');
  const pixels = side * side;
  const out = new Float32Array(hwc.length);
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < CHANNELS; c++) out[c * pixels + p] = dequantiseValue(hwc[p * CHANNELS + c]);
  }
  return out;
}

export interface GridOptions {
  /** Gap between cells, in output pixels (default max(1, scale / 2)). */
  gap?: number;
  /** Gap colour, RGB bytes (default white). */
  gapColour?: [number, number, number];
}

/**
 * Lays out rows of square CHW images (all the same size, 16×16 by default in this world) into one RGB raster,
 * each image upscaled `scale`× by nearest neighbour, with gaps between cells; short rows are padded with gap colour.
 */
export function gridRaster(rows: Float32Array[][], scale = 4, options: GridOptions = {}): { data: Uint8Array; width: number; height: number } {
  if (!Number.isInteger(scale) || scale < 1) throw new ShapesError('INVALID_ARGUMENT', `scale must be a positive integer, got ${scale}`);
  const first = rows.flat()[0];
  if (!first) throw new ShapesError('INVALID_ARGUMENT', 'the grid needs at least one image');
  const side = sideOf(first.length, 'grid image');
  const gap = options.gap ?? Math.max(1, Math.floor(scale / 2));
  const [gr, gg, gb] = options.gapColour ?? [255, 255, 255];
  const columns = Math.max(...rows.map((row) => row.length));
  const cell = side * scale;
  const width = columns * cell + (columns + 1) * gap;
  const height = rows.length * cell + (rows.length + 1) * gap;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    data[i * 3] = gr;
    data[i * 3 + 1] = gg;
    data[i * 3 + 2] = gb;
  }
  rows.forEach((row, ri) =>
    row.forEach((image, ci) => {
      if (image.length !== first.length) {
        throw new ShapesError('INVALID_IMAGE', `grid images must all have ${first.length} values; row ${ri}, column ${ci} has ${image.length}`);
      }
      const rgb = chwToRgbHwc(image);
      const top = gap + ri * (cell + gap);
      const left = gap + ci * (cell + gap);
      for (let y = 0; y < cell; y++) {
        for (let x = 0; x < cell; x++) {
          const src = (Math.floor(y / scale) * side + Math.floor(x / scale)) * 3;
          const dst = ((top + y) * width + left + x) * 3;
          data[dst] = rgb[src];
          data[dst + 1] = rgb[src + 1];
          data[dst + 2] = rgb[src + 2];
        }
      }
    }),
  );
  return { data, width, height };
}

/** Writes `gridRaster(rows, scale, options)` as a PNG file. */
export async function writePngGrid(path: string, rows: Float32Array[][], scale = 4, options: GridOptions = {}): Promise<void> {
  const { data, width, height } = gridRaster(rows, scale, options);
  await sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { raw: { width, height, channels: 3 } })
    .png()
    .toFile(path);
}
