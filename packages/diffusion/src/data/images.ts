import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import sharp, { type Metadata, type OutputInfo, type Sharp } from 'sharp';
import type { DropReason } from './rows.ts';
import type { ImageTimeIds } from '../unet/time-ids.ts';
import { centreCropPlan } from './crop-plan.ts';

/**
 * Image decoding for preference pairs: JPEG, PNG or WebP bytes → RGB → shorter side resized to `resolution` and
 * centre-cropped to a square (what diffusers' training scripts do with Resize + CenterCrop, see crop-plan.ts) →
 * float32 CHW in [−1, 1], with the SDXL time ids of that crop.
 *
 * Transparency: images with alpha are composited ("flattened") onto a solid background, WHITE by default, because
 * generated images with alpha are mostly cut-outs meant to be shown on a page; pass `background: 'black'` to match
 * pipelines that simply drop the alpha channel of premultiplied black. EXIF orientation is applied first, so a
 * phone photo stored sideways is trained the right way up.
 */

export interface ImageLimits {
  /** Encoded size limit in bytes. */
  maxBytes: number;
  /** Decoded size limit in pixels (width × height), checked from the header before any decoding. */
  maxPixels: number;
}

export const DEFAULT_IMAGE_LIMITS: ImageLimits = { maxBytes: 50 * 1024 * 1024, maxPixels: 40_000_000 };

export type Background = 'white' | 'black';

export interface DecodeOptions extends Partial<ImageLimits> {
  /** Side of the square output, in pixels. */
  resolution: number;
  background?: Background;
}

export const SUPPORTED_IMAGE_FORMATS = new Set(['jpeg', 'png', 'webp']);

export interface ImageFailure {
  ok: false;
  reason: DropReason;
  detail: string;
}

export interface DecodedImage {
  ok: true;
  /** [3, resolution, resolution], values in [−1, 1]. */
  pixels: Float32Array;
  /** Size of the image as uploaded (before resizing). */
  width: number;
  height: number;
  /** SDXL micro-conditioning of these pixels: the upright original size, the crop's top-left in the resized image, R×R. */
  timeIds: ImageTimeIds;
}

const BACKGROUNDS: Record<Background, { r: number; g: number; b: number }> = {
  white: { r: 255, g: 255, b: 255 },
  black: { r: 0, g: 0, b: 0 },
};

function fail(reason: DropReason, detail: string): ImageFailure {
  return { ok: false, reason, detail };
}

function limitsOf(opts: Partial<ImageLimits>): ImageLimits {
  return { maxBytes: opts.maxBytes ?? DEFAULT_IMAGE_LIMITS.maxBytes, maxPixels: opts.maxPixels ?? DEFAULT_IMAGE_LIMITS.maxPixels };
}

/** Cheap checks from the bytes and the image header only: size limits and format. Nothing is decoded. */
export async function checkImage(
  bytes: Uint8Array,
  opts: Partial<ImageLimits> = {},
): Promise<ImageFailure | { ok: true; width: number; height: number; format: string; orientation: number }> {
  const limits = limitsOf(opts);
  if (bytes.byteLength === 0) return fail('empty_image', 'image has 0 bytes');
  if (bytes.byteLength > limits.maxBytes)
    return fail('image_too_large', `image is ${bytes.byteLength} bytes, the limit is ${limits.maxBytes}`);
  let meta: Metadata;
  try {
    meta = await sharp(bytes).metadata();
  } catch (e) {
    return fail('undecodable_image', `not a readable image: ${(e as Error).message}`);
  }
  const format = meta.format ?? 'unknown';
  if (!SUPPORTED_IMAGE_FORMATS.has(format))
    return fail('undecodable_image', `image format '${format}' is not supported (use JPEG, PNG or WebP)`);
  const { width = 0, height = 0 } = meta;
  if (width <= 0 || height <= 0) return fail('undecodable_image', `image is ${width}×${height} pixels`);
  if (width * height > limits.maxPixels)
    return fail('image_too_large', `image is ${width}×${height} = ${width * height} pixels, the limit is ${limits.maxPixels}`);
  return { ok: true, width, height, format, orientation: meta.orientation ?? 1 };
}

function rgbPipeline(bytes: Uint8Array, limits: ImageLimits, background: Background): Sharp {
  // limitInputPixels guards again inside libvips, in case the header lied about the size.
  return sharp(bytes, { limitInputPixels: limits.maxPixels })
    .autoOrient()
    .flatten({ background: BACKGROUNDS[background] })
    .toColourspace('srgb');
}

/** Decodes, resizes and centre-crops one image to `[3, R, R]` floats in [−1, 1], or says why it cannot. */
export async function decodeImage(bytes: Uint8Array, opts: DecodeOptions): Promise<DecodedImage | ImageFailure> {
  const limits = limitsOf(opts);
  const checked = await checkImage(bytes, limits);
  if (!checked.ok) return checked;
  const R = opts.resolution;
  // EXIF orientations 5–8 turn the picture a quarter: autoOrient swaps its width and height.
  const [width, height] = checked.orientation >= 5 ? [checked.height, checked.width] : [checked.width, checked.height];
  const plan = centreCropPlan(width, height, R);
  let raw: { data: Buffer; info: OutputInfo };
  try {
    raw = await rgbPipeline(bytes, limits, opts.background ?? 'white')
      .resize(plan.resizedWidth, plan.resizedHeight, { fit: 'fill' })
      .extract({ left: plan.left, top: plan.top, width: R, height: R })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (e) {
    return fail('undecodable_image', `image could not be decoded: ${(e as Error).message}`);
  }
  const { data, info } = raw;
  if (info.channels !== 3 || info.width !== R || info.height !== R)
    return fail('undecodable_image', `decoder produced ${info.width}×${info.height}×${info.channels}, expected ${R}×${R}×3`);
  const timeIds: ImageTimeIds = { originalSize: [height, width], cropTopLeft: [plan.top, plan.left], targetSize: [R, R] };
  return { ok: true, pixels: hwcToChw(data, R), width: checked.width, height: checked.height, timeIds };
}

/** Interleaved RGB bytes → planar float32 in [−1, 1] (x / 127.5 − 1, as diffusers' Normalize([0.5], [0.5])). */
export function hwcToChw(data: Uint8Array, R: number): Float32Array {
  const plane = R * R;
  const out = new Float32Array(3 * plane);
  for (let p = 0, i = 0; p < plane; p++, i += 3) {
    out[p] = data[i] / 127.5 - 1;
    out[plane + p] = data[i + 1] / 127.5 - 1;
    out[2 * plane + p] = data[i + 2] / 127.5 - 1;
  }
  return out;
}

/**
 * Fully decodes an image at its own size and hashes the RGB pixels: two files with different bytes but the same
 * picture (re-encoded PNG, different metadata) get the same hash. Used by validation to find identical pairs.
 */
export async function decodedPixelHash(
  bytes: Uint8Array,
  opts: Partial<ImageLimits> & { background?: Background } = {},
): Promise<{ ok: true; hash: string; width: number; height: number } | ImageFailure> {
  const limits = limitsOf(opts);
  const checked = await checkImage(bytes, limits);
  if (!checked.ok) return checked;
  try {
    const { data, info } = await rgbPipeline(bytes, limits, opts.background ?? 'white').removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const hash = createHash('sha256').update(`${info.width}x${info.height}x${info.channels}:`).update(data).digest('hex');
    return { ok: true, hash, width: info.width, height: info.height };
  } catch (e) {
    return fail('undecodable_image', `image could not be decoded: ${(e as Error).message}`);
  }
}

/** Runs `fn` over `items` with at most `concurrency` in flight, keeping results in input order. */
export async function mapBounded<T, R>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return out;
}

/**
 * Decodes many images with bounded concurrency (sharp works on libuv's thread pool, so a few in flight keep the
 * cores busy while bounding memory to `concurrency` decoded originals). Results are in input order.
 */
export function decodeBatch(
  images: readonly Uint8Array[],
  opts: DecodeOptions & { concurrency?: number },
): Promise<(DecodedImage | ImageFailure)[]> {
  return mapBounded(images, opts.concurrency ?? Math.min(8, availableParallelism() * 2), (bytes) => decodeImage(bytes, opts));
}
