import { encodeDatasetForModel, renderSampleGrid, renderSamples, trainAdapter, validateModelFolder } from '@npo/trainer';

// The slice of @npo/trainer the worker calls, as one injectable dependency (`deps.trainer`): main.ts passes the
// real module; bookkeeping tests pass a stand-in typed against these same signatures.
export interface TrainerApi {
  trainAdapter: typeof trainAdapter;
  encodeDatasetForModel: typeof encodeDatasetForModel;
  validateModelFolder: typeof validateModelFolder;
  renderSampleGrid: typeof renderSampleGrid;
  renderSamples: typeof renderSamples;
}

export const realTrainer: TrainerApi = { trainAdapter, encodeDatasetForModel, validateModelFolder, renderSampleGrid, renderSamples };

export type { StepMetrics, CheckpointWritten, TrainAdapterOptions, RenderedImage, RenderedSamples, SamplerName } from '@npo/trainer';
