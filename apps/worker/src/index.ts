export { startWorker, reconcile } from './queue-consumers.ts';
export type { WorkerDeps } from './deps.ts';
export * from './trainer-api.ts';
export { validateDataset, type ValidateDataset } from './dataset-api.ts';
