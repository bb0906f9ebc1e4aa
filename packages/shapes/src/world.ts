import { ShapesError } from './errors.ts';
import type { Rng } from '@npo/graph';

/**
 * The shapes world of packages/shapes/MINIATURE.md: 16×16 RGB images in [−1, 1], CHW layout (channel-major:
 * value of channel c at row y, column x is at `c·256 + y·16 + x`; row 0 is the top of the image).
 */
export const IMAGE_SIZE = 16;
export const CHANNELS = 3;
export const PIXELS = IMAGE_SIZE * IMAGE_SIZE;
/** Floats per image: 3 × 16 × 16 = 768. */
export const IMAGE_LENGTH = CHANNELS * PIXELS;

export type Rgb = readonly [number, number, number];
export const BACKGROUND: Rgb = [-0.5, -0.5, -0.5];

export const COLOUR_NAMES = ['red', 'green', 'blue', 'yellow'] as const;
export type Colour = (typeof COLOUR_NAMES)[number];
export const COLOURS: Readonly<Record<Colour, Rgb>> = {
  red: [0.9, -0.8, -0.8],
  green: [-0.8, 0.9, -0.8],
  blue: [-0.8, -0.8, 0.9],
  yellow: [0.9, 0.9, -0.8],
};

export const SHAPE_NAMES = ['circle', 'square', 'triangle'] as const;
export type Shape = (typeof SHAPE_NAMES)[number];

export interface Prompt {
  index: number;
  colour: Colour;
  shape: Shape;
  text: string;
}

/**
 * The 12 prompts, colour-major: index = colourIndex · 3 + shapeIndex, i.e.
 * 0 "a red circle", 1 "a red square", 2 "a red triangle", 3 "a green circle", …, 11 "a yellow triangle".
 */
export const PROMPTS: readonly Prompt[] = COLOUR_NAMES.flatMap((colour, c) =>
  SHAPE_NAMES.map((shape, s) => ({ index: c * SHAPE_NAMES.length + s, colour, shape, text: `a ${colour} ${shape}` })),
);
export const PROMPT_COUNT = PROMPTS.length;

export function getPrompt(index: number): Prompt {
  const prompt = Number.isInteger(index) ? PROMPTS[index] : undefined;
  if (!prompt) throw new ShapesError('INVALID_PROMPT', `prompt index must be an integer in 0..${PROMPT_COUNT - 1}, got ${index}`);
  return prompt;
}

export function promptIndexOf(colour: Colour, shape: Shape): number {
  const c = COLOUR_NAMES.indexOf(colour);
  const s = SHAPE_NAMES.indexOf(shape);
  if (c < 0 || s < 0) {
    throw new ShapesError('INVALID_PROMPT', `unknown colour/shape "${colour}"/"${shape}"; colours: ${COLOUR_NAMES.join(', ')}; shapes: ${SHAPE_NAMES.join(', ')}`);
  }
  return c * SHAPE_NAMES.length + s;
}

export function promptIndexOfText(text: string): number {
  const i = PROMPTS.findIndex((p) => p.text === text);
  if (i < 0) throw new ShapesError('INVALID_PROMPT', `unknown prompt "${text}"; expected one of: ${PROMPTS.map((p) => p.text).join(', ')}`);
  return i;
}

/** One shape to draw: its colour, kind, centre (cx = column axis, cy = row axis, in pixels) and radius. */
export interface Scene {
  colour: Colour;
  shape: Shape;
  cx: number;
  cy: number;
  r: number;
}

/** Centre and radius ranges of random scenes (MINIATURE.md): cx, cy ~ U[6, 10], r ~ U[3.5, 5]. */
export const SCENE_RANGES = { centre: [6, 10], radius: [3.5, 5] } as const;

/**
 * Whether offset (dx, dy) from the centre lies inside the shape; dy grows downwards (image rows), so the
 * triangle's apex (dy = −r, |dx| ≤ 0) is at the top. Boundaries are inclusive, as MINIATURE.md writes them.
 */
export function insideShape(shape: Shape, dx: number, dy: number, r: number): boolean {
  switch (shape) {
    case 'circle':
      return dx * dx + dy * dy <= r * r;
    case 'square':
      return Math.abs(dx) <= 0.85 * r && Math.abs(dy) <= 0.85 * r;
    case 'triangle':
      return dy >= -r && dy <= 0.8 * r && Math.abs(dx) <= (dy + r) / 1.8;
  }
}

/**
 * Renders a scene with hard edges, each pixel tested at its centre (x + 0.5, y + 0.5). Writes into `out`
 * (length 768) when given, else into a new Float32Array.
 */
export function renderShape(scene: Scene, out: Float32Array = new Float32Array(IMAGE_LENGTH)): Float32Array {
  const rgb = COLOURS[scene.colour];
  if (!rgb || !SHAPE_NAMES.includes(scene.shape)) {
    throw new ShapesError('INVALID_PROMPT', `cannot render colour "${scene.colour}" / shape "${scene.shape}"`);
  }
  if (![scene.cx, scene.cy, scene.r].every(Number.isFinite)) {
    throw new ShapesError('INVALID_ARGUMENT', `scene cx, cy, r must be finite numbers, got ${scene.cx}, ${scene.cy}, ${scene.r}`);
  }
  if (out.length !== IMAGE_LENGTH) {
    throw new ShapesError('INVALID_IMAGE', `output buffer must hold ${IMAGE_LENGTH} floats (3×16×16), got ${out.length}`);
  }
  for (let y = 0; y < IMAGE_SIZE; y++) {
    const dy = y + 0.5 - scene.cy;
    for (let x = 0; x < IMAGE_SIZE; x++) {
      const colour = insideShape(scene.shape, x + 0.5 - scene.cx, dy, scene.r) ? rgb : BACKGROUND;
      const p = y * IMAGE_SIZE + x;
      out[p] = colour[0];
      out[PIXELS + p] = colour[1];
      out[2 * PIXELS + p] = colour[2];
    }
  }
  return out;
}

/** Draws a scene for a prompt: cx, then cy, then r, each one `rng.uniform` call in the ranges above. */
export function sampleScene(rng: Rng, promptIndex: number): Scene {
  const { colour, shape } = getPrompt(promptIndex);
  const [c0, c1] = SCENE_RANGES.centre;
  const [r0, r1] = SCENE_RANGES.radius;
  const cx = rng.uniform(c0, c1);
  const cy = rng.uniform(c0, c1);
  const r = rng.uniform(r0, r1);
  return { colour, shape, cx, cy, r };
}

/**
 * A batch of fresh random training images: for each item, prompt = rng.int(12), then `sampleScene`.
 * Returns NCHW images (n × 768 floats) and the prompt index of each.
 */
export function sampleBatch(rng: Rng, n: number): { images: Float32Array; promptIndices: Int32Array } {
  if (!Number.isInteger(n) || n < 1) throw new ShapesError('INVALID_ARGUMENT', `batch size must be a positive integer, got ${n}`);
  const images = new Float32Array(n * IMAGE_LENGTH);
  const promptIndices = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    promptIndices[i] = rng.int(PROMPT_COUNT);
    renderShape(sampleScene(rng, promptIndices[i]), images.subarray(i * IMAGE_LENGTH, (i + 1) * IMAGE_LENGTH));
  }
  return { images, promptIndices };
}
