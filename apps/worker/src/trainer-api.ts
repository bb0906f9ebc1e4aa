import { checkJobMemoryInThread, encodeDatasetForModel, encodeDatasetInThread, renderSampleGrid, renderSamples, trainAdapter, validateModelFolder } from '@npo/trainer';

// The slice of @npo/trainer the worker calls, as one injectable dependency (`deps.trainer`): main.ts passes the
// real module; bookkeeping tests pass a stand-in typed against these same signatures.
export interface TrainerApi {
  checkJobMemory: typeof checkJobMemoryInThread;
  trainAdapter: typeof trainAdapter;
  encodeDatasetForModel: typeof encodeDatasetForModel;
  validateModelFolder: typeof validateModelFolder;
  renderSampleGrid: typeof renderSampleGrid;
  renderSamples: typeof renderSamples;
}

// the memory check (building the step graph) and preparation (tokenizing, text and VAE encoding) run in worker
// threads, like training, so the main thread keeps renewing BullMQ's lock and hearing cancels
export const realTrainer: TrainerApi = {
  checkJobMemory: checkJobMemoryInThread, trainAdapter, encodeDatasetForModel: encodeDatasetInThread, validateModelFolder, renderSampleGrid, renderSamples,
};

export type { StepMetrics, CheckpointWritten, TrainAdapterOptions, RenderedImage, RenderedSamples, SamplerName, MemoryCheck } from '@npo/trainer';
