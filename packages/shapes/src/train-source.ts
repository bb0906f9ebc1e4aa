import type { Rng } from '@npo/graph';
import { PROMPTS, renderShape, sampleScene } from './world.ts';

export interface ShapesSourceOptions {
  /** [13, T, D]: the 12 prompts' embeddings in PROMPTS order, then the empty prompt's. */
  embeddings: Float32Array;
  embedShape: number[];
}

/**
 * Fresh random scenes for full-parameter pretraining (loaded by the trainer's worker by module path):
 * each sample picks a prompt uniformly and renders it at a random position and size.
 */
export function createTrainingSource(o: ShapesSourceOptions) {
  const E = o.embedShape.reduce((a, b) => a * b, 1);
  const P = PROMPTS.length;
  if (o.embeddings.length !== (P + 1) * E) throw new Error(`shapes source: embeddings must be [${P + 1}, ${o.embedShape}]`);
  const pixels = 3 * 16 * 16;
  return {
    sampleShape: [3, 16, 16],
    embedShape: o.embedShape,
    uncond: o.embeddings.slice(P * E),
    next(n: number, rng: Rng) {
      const images = new Float32Array(n * pixels);
      const embeds = new Float32Array(n * E);
      for (let i = 0; i < n; i++) {
        const p = rng.int(P);
        images.set(renderShape(sampleScene(rng, p)), i * pixels);
        embeds.set(o.embeddings.subarray(p * E, (p + 1) * E), i * E);
      }
      return { images, embeds };
    },
  };
}
