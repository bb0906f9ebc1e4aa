import { ShapesError } from './errors.ts';
import { quantiseImage, quantiseValue } from './quantise.ts';
import { BACKGROUND, COLOURS, IMAGE_LENGTH, PIXELS, PROMPT_COUNT, getPrompt, renderShape, type Scene } from './world.ts';

/**
 * The programmatic reward of the shapes world (MINIATURE.md):
 *   r(x, p) = −min_k mean((q(x) − q(T_k))²)
 * where q is the uint8 quantisation of quantise.ts (clamp to [−1, 1], round to bytes, back to [−1, 1]) and
 * T_k the 567 clean renderings of prompt p on the template grid. The mean runs over all 768 values (3×16×16).
 *
 * Because both sides are bytes, the squared distance is computed exactly in integers:
 *   mean((q(x) − q(T))²) = Σ (bx − bt)² · (2/255)² / 768
 * so a clean rendering at grid parameters scores exactly 0 and scores never depend on summation order.
 * `bruteForceReward` computes the same thing the slow, obvious way; the tests hold the fast path to it.
 */
export const TEMPLATE_GRID = {
  cx: range(6, 10, 0.5),
  cy: range(6, 10, 0.5),
  r: range(3.5, 5, 0.25),
} as const;
/** 9 · 9 · 7 = 567. */
export const TEMPLATES_PER_PROMPT = TEMPLATE_GRID.cx.length * TEMPLATE_GRID.cy.length * TEMPLATE_GRID.r.length;

const BYTE_SQ_TO_MEAN = (2 / 255) ** 2 / IMAGE_LENGTH;

function range(from: number, to: number, step: number): number[] {
  const n = Math.round((to - from) / step) + 1;
  return Array.from({ length: n }, (_, i) => from + i * step);
}

/** The template scenes of a prompt, in grid order: index = (ix · 9 + iy) · 7 + ir (cx slowest, r fastest). */
export function templateScenes(promptIndex: number): Scene[] {
  const { colour, shape } = getPrompt(promptIndex);
  const scenes: Scene[] = [];
  for (const cx of TEMPLATE_GRID.cx) for (const cy of TEMPLATE_GRID.cy) for (const r of TEMPLATE_GRID.r) scenes.push({ colour, shape, cx, cy, r });
  return scenes;
}

const templateCache = new Map<number, Uint8Array>();

/** The quantised templates of a prompt, 567 × 768 bytes (CHW each), computed once and cached. */
export function promptTemplates(promptIndex: number): Uint8Array {
  let cached = templateCache.get(promptIndex);
  if (!cached) {
    const scenes = templateScenes(promptIndex);
    cached = new Uint8Array(scenes.length * IMAGE_LENGTH);
    const image = new Float32Array(IMAGE_LENGTH);
    scenes.forEach((scene, k) => quantiseImage(renderShape(scene, image), cached!.subarray(k * IMAGE_LENGTH, (k + 1) * IMAGE_LENGTH)));
    templateCache.set(promptIndex, cached);
  }
  return cached;
}

export interface RewardDetail {
  reward: number;
  /** Index of the nearest template (see `templateScenes`) and its scene. */
  template: number;
  scene: Scene;
}

/**
 * Every template is background except its shape's pixels, which all hold the prompt's colour. So for image
 * bytes b, with bg/col the quantised background/colour bytes of channel c:
 *   ssd(T_k) = Σ_all (b − bg)²  +  Σ_{pixels p in shape k} Δ_p,   Δ_p = Σ_c [(b_cp − col_c)² − (b_cp − bg_c)²]
 * Exact in integers, and a template costs its pixel count (≈ 40–80) instead of 768 values.
 */
interface PromptMasks {
  /** Shape pixel indices (y · 16 + x) of all templates, concatenated. */
  pixels: Uint8Array;
  /** Template k's pixels are pixels[offsets[k] .. offsets[k + 1]). */
  offsets: Int32Array;
  colourBytes: [number, number, number];
  backgroundBytes: [number, number, number];
}

const maskCache = new Map<number, PromptMasks>();

function promptMasks(promptIndex: number): PromptMasks {
  let cached = maskCache.get(promptIndex);
  if (!cached) {
    const templates = promptTemplates(promptIndex);
    const colour = COLOURS[getPrompt(promptIndex).colour];
    const colourBytes = colour.map((v) => quantiseValue(Math.fround(v))) as [number, number, number];
    const backgroundBytes = BACKGROUND.map((v) => quantiseValue(Math.fround(v))) as [number, number, number];
    const pixels: number[] = [];
    const offsets = new Int32Array(TEMPLATES_PER_PROMPT + 1);
    for (let k = 0; k < TEMPLATES_PER_PROMPT; k++) {
      const base = k * IMAGE_LENGTH;
      for (let p = 0; p < PIXELS; p++) {
        // a pixel is "in the shape" when its bytes are the colour's (no colour equals the background)
        if (templates[base + p] === colourBytes[0] && templates[base + PIXELS + p] === colourBytes[1] && templates[base + 2 * PIXELS + p] === colourBytes[2]) pixels.push(p);
      }
      offsets[k + 1] = pixels.length;
    }
    cached = { pixels: Uint8Array.from(pixels), offsets, colourBytes, backgroundBytes };
    maskCache.set(promptIndex, cached);
  }
  return cached;
}

/** Nearest template to the quantised image `bytes` (768 CHW bytes): its exact integer squared distance and index. */
function nearestTemplate(bytes: Uint8Array, masks: PromptMasks, delta: Int32Array): { ssd: number; index: number } {
  const [c0, c1, c2] = masks.colourBytes;
  const [g0, g1, g2] = masks.backgroundBytes;
  let base = 0;
  for (let p = 0; p < PIXELS; p++) {
    const b0 = bytes[p], b1 = bytes[PIXELS + p], b2 = bytes[2 * PIXELS + p];
    const toBackground = (b0 - g0) * (b0 - g0) + (b1 - g1) * (b1 - g1) + (b2 - g2) * (b2 - g2);
    const toColour = (b0 - c0) * (b0 - c0) + (b1 - c1) * (b1 - c1) + (b2 - c2) * (b2 - c2);
    base += toBackground;
    delta[p] = toColour - toBackground;
  }
  const { pixels, offsets } = masks;
  let best = Infinity;
  let bestIndex = -1;
  for (let k = 0; k < TEMPLATES_PER_PROMPT; k++) {
    let sum = 0;
    for (let i = offsets[k], end = offsets[k + 1]; i < end; i++) sum += delta[pixels[i]];
    if (sum < best) {
      best = sum;
      bestIndex = k;
    }
  }
  return { ssd: base + best, index: bestIndex };
}

function checkImage(image: Float32Array | Uint8Array, what: string): void {
  if (image.length !== IMAGE_LENGTH) {
    throw new ShapesError('INVALID_IMAGE', `${what} must hold ${IMAGE_LENGTH} values (one 3×16×16 CHW image), got ${image.length}`);
  }
}

/** Reward of one CHW float image for prompt `promptIndex`, with the template it matched. */
export function rewardDetail(image: Float32Array, promptIndex: number): RewardDetail {
  checkImage(image, 'image');
  return detailOfBytes(quantiseImage(image), promptIndex);
}

/** Reward of one already-quantised CHW image (768 bytes), e.g. a stored preference sample. */
export function rewardOfBytes(bytes: Uint8Array, promptIndex: number): number {
  checkImage(bytes, 'quantised image');
  return detailOfBytes(bytes, promptIndex).reward;
}

function detailOfBytes(bytes: Uint8Array, promptIndex: number): RewardDetail {
  const { ssd, index } = nearestTemplate(bytes, promptMasks(promptIndex), new Int32Array(PIXELS));
  // `0 - x` rather than `-x` so that an exact match reports 0, not −0.
  return { reward: 0 - ssd * BYTE_SQ_TO_MEAN, template: index, scene: templateScenes(promptIndex)[index] };
}

/** Reward of one CHW float image (768 values in [−1, 1]; values outside are clamped). */
export function reward(image: Float32Array, promptIndex: number): number {
  checkImage(image, 'image');
  getPrompt(promptIndex);
  const { ssd } = nearestTemplate(quantiseImage(image), promptMasks(promptIndex), new Int32Array(PIXELS));
  return 0 - ssd * BYTE_SQ_TO_MEAN;
}

/**
 * Rewards of a batch of NCHW images (n × 768 floats). `promptIndices`: one prompt per image, or one prompt
 * for all of them.
 */
export function rewardBatch(images: Float32Array, promptIndices: ArrayLike<number> | number): Float64Array {
  if (images.length % IMAGE_LENGTH !== 0 || images.length === 0) {
    throw new ShapesError('INVALID_IMAGE', `images must be n × ${IMAGE_LENGTH} floats (NCHW, 3×16×16), got ${images.length}`);
  }
  const n = images.length / IMAGE_LENGTH;
  if (typeof promptIndices !== 'number' && promptIndices.length !== n) {
    throw new ShapesError('INVALID_ARGUMENT', `got ${n} images but ${promptIndices.length} prompt indices`);
  }
  const out = new Float64Array(n);
  const bytes = new Uint8Array(IMAGE_LENGTH);
  const delta = new Int32Array(PIXELS);
  for (let i = 0; i < n; i++) {
    const p = typeof promptIndices === 'number' ? promptIndices : promptIndices[i];
    if (!Number.isInteger(p) || p < 0 || p >= PROMPT_COUNT) getPrompt(p); // throws with the message
    quantiseImage(images.subarray(i * IMAGE_LENGTH, (i + 1) * IMAGE_LENGTH), bytes);
    out[i] = 0 - nearestTemplate(bytes, promptMasks(p), delta).ssd * BYTE_SQ_TO_MEAN;
  }
  return out;
}

/** The definition, computed the obvious way over all 567 × 768 template bytes: the reference for tests. */
export function bruteForceReward(image: Float32Array, promptIndex: number): number {
  checkImage(image, 'image');
  const bytes = quantiseImage(image);
  const templates = promptTemplates(promptIndex);
  let best = Infinity;
  for (let k = 0; k < TEMPLATES_PER_PROMPT; k++) {
    let ssd = 0;
    for (let i = 0; i < IMAGE_LENGTH; i++) {
      const d = (bytes[i] / 255) * 2 - 1 - ((templates[k * IMAGE_LENGTH + i] / 255) * 2 - 1);
      ssd += d * d;
    }
    best = Math.min(best, ssd / IMAGE_LENGTH);
  }
  return 0 - best;
}
