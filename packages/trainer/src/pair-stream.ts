import { ShardReader, type ShardReaderState } from '@npo/diffusion';

/** An endless, seeded, resumable stream of preference pairs from a prepared dataset cache. */
export interface PairStream {
  latentShape: number[];
  embedShape: number[];
  /** The unconditional (empty prompt) embedding, for prompt dropout. */
  uncond: Float32Array;
  next(): { chosen: Float32Array; rejected: Float32Array; embeds: Float32Array };
  getState(): unknown;
  setState(state: unknown): void;
}

export function openPairStream(preparedDir: string, seed: number, pairsPerBatch: number): PairStream {
  const reader = new ShardReader(preparedDir, { batchSize: pairsPerBatch, seed });
  return {
    latentShape: reader.manifest.latent_shape,
    embedShape: reader.manifest.embed_shape,
    uncond: reader.uncond,
    next: () => reader.nextBatch(),
    getState: () => reader.getState(),
    setState: (s) => reader.setState(s as ShardReaderState),
  };
}
