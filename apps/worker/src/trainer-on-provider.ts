import type { ExecutionProvider } from '@npo/graph';
import type { TrainerApi } from './trainer-api.ts';

/**
 * The trainer with every session it opens on `provider`: the one place where the worker's configured provider
 * reaches preparation (text encoder, VAE), training, the sample grid and any sampling. Typed against TrainerApi,
 * so a function added there does not compile until it is bound here too.
 */
export function trainerOn(provider: ExecutionProvider, t: TrainerApi): TrainerApi {
  return {
    trainAdapter: (o) => t.trainAdapter({ ...o, executionProvider: provider }),
    encodeDatasetForModel: (o) => t.encodeDatasetForModel({ ...o, executionProvider: provider }),
    renderSampleGrid: (o) => t.renderSampleGrid({ ...o, executionProvider: provider }),
    renderSamples: (o) => t.renderSamples({ ...o, executionProvider: provider }),
    // reads headers and configs only: no session
    validateModelFolder: (dir) => t.validateModelFolder(dir),
    // builds the step graph to measure it, never runs it: no session
    checkJobMemory: (o) => t.checkJobMemory(o),
  };
}
