export * from './errors.ts';
export * from './hyperparameters.ts';
export * from './ids.ts';
export * from './queues.ts';
export * from './schemas/common.ts';
export * from './schemas/datasets.ts';
export * from './schemas/models.ts';
export * from './schemas/jobs.ts';
