import { numel, type Rng } from '@npo/graph';
import { CHANNELS, IMAGE_SIZE, PROMPTS, sampleBatch } from './world.ts';

export interface ShapesSourceOptions {
  /** [13, T, D]: the 12 prompts' embeddings in PROMPTS order, then the empty prompt's. */
  embeddings: Float32Array;
  embedShape: number[];
}

/**
 * Fresh random scenes for full-parameter pretraining (loaded by the trainer's worker by module path):
 * each sample picks a prompt uniformly and renders it at a random position and size (`sampleBatch`).
 */
export function createTrainingSource(o: ShapesSourceOptions) {
  const E = numel(o.embedShape);
  const P = PROMPTS.length;
  if (o.embeddings.length !== (P + 1) * E) throw new Error(`shapes source: embeddings must be [${P + 1}, ${o.embedShape}]`);
  return {
    sampleShape: [CHANNELS, IMAGE_SIZE, IMAGE_SIZE],
    embedShape: o.embedShape,
    uncond: o.embeddings.slice(P * E),
    next(n: number, rng: Rng) {
      const { images, promptIndices } = sampleBatch(rng, n);
      const embeds = new Float32Array(n * E);
      promptIndices.forEach((p, i) => embeds.set(o.embeddings.subarray(p * E, (p + 1) * E), i * E));
      return { images, embeds };
    },
  };
}
