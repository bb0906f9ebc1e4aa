import {
  checkJobMemoryInThread, encodeDatasetForModel, encodeDatasetInThread, renderSampleGridInThread, renderSamplesInThread, trainAdapter, validateModelFolder,
} from '@npo/trainer';

// The slice of @npo/trainer the worker calls, as one injectable dependency (`deps.trainer`): main.ts passes the
// real module; bookkeeping tests pass a stand-in typed against these same signatures.
export interface TrainerApi {
  checkJobMemory: typeof checkJobMemoryInThread;
  trainAdapter: typeof trainAdapter;
  encodeDatasetForModel: typeof encodeDatasetForModel;
  validateModelFolder: typeof validateModelFolder;
  renderSampleGrid: typeof renderSampleGridInThread;
  renderSamples: typeof renderSamplesInThread;
}

// the memory check (building the step graph), preparation (tokenizing, text and VAE encoding) and sampling (the
// preview grid, validation prompts, sampling requests) run in worker threads, like training, so the main thread keeps
// renewing BullMQ's lock and hearing cancels
export const realTrainer: TrainerApi = {
  checkJobMemory: checkJobMemoryInThread, trainAdapter, encodeDatasetForModel: encodeDatasetInThread, validateModelFolder,
  renderSampleGrid: renderSampleGridInThread, renderSamples: renderSamplesInThread,
};

export type { StepMetrics, CheckpointWritten, TrainAdapterOptions, RenderedImage, RenderedSamples, SamplerName, MemoryCheck } from '@npo/trainer';
