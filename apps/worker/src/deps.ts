import type { Connections, Logger } from '@npo/platform';
import type { TrainerApi } from './trainer-api.ts';
import type { ValidateDataset } from './dataset-api.ts';

/** What the worker's processors are given (main.ts builds the real ones; tests build their own). */
export interface WorkerDeps extends Connections {
  logger: Logger;
  trainer: TrainerApi;
  validateDataset: ValidateDataset;
  /** Aborted when this worker shuts down (SIGTERM): running training checkpoints and goes back to the queue. */
  shutdown?: AbortSignal;
}
