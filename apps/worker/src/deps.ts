import type { Config, Db, Storage, Queues, EventBus, Logger } from '@npo/platform';
import type { Redis } from 'ioredis';
import type { TrainerApi } from './trainer-api.ts';
import type { ValidateDataset } from './dataset-api.ts';

/** What the worker's processors are given (main.ts builds the real ones; tests build their own). */
export interface WorkerDeps {
  config: Config;
  db: Db;
  storage: Storage;
  queues: Queues;
  redis: Redis;
  bus: EventBus;
  logger: Logger;
  trainer: TrainerApi;
  validateDataset: ValidateDataset;
}
