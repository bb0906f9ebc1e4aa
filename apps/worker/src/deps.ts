import type { Connections, Logger } from '@npo/platform';
import type { TrainerApi } from './trainer-api.ts';
import type { ValidateDataset } from './dataset-api.ts';

/** What the worker's processors are given (main.ts builds the real ones; tests build their own). */
export interface WorkerDeps extends Connections {
  logger: Logger;
  trainer: TrainerApi;
  validateDataset: ValidateDataset;
}
