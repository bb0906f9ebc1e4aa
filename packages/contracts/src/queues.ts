// BullMQ queue names (one per stage kind) and their payloads. The BullMQ job id is always our own id.
export const QueueNames = { datasets: 'datasets', models: 'models', train: 'train', samples: 'samples', webhooks: 'webhooks' } as const;
export type QueueName = (typeof QueueNames)[keyof typeof QueueNames];

export interface DatasetValidationPayload { datasetId: string }
export interface ModelValidationPayload { modelId: string }
export interface TrainPayload { jobId: string }
export interface WebhookDeliveryPayload { deliveryId: string }

/** Redis pub/sub channels, under the Redis key prefix (config.redisKeyPrefix, env QUEUE_PREFIX) so deployments and test runs stay apart. */
export const Channels = {
  jobEvents: (prefix: string, jobId: string) => `${prefix}:job-events:${jobId}`,
  cancel: (prefix: string) => `${prefix}:cancel`,
};
