import type { AppDeps } from '../deps.ts';
import type { StreamRegistry } from './sse-streams.ts';
import { createDatasetService } from './datasets.ts';
import { createModelService } from './models.ts';
import { createJobService } from './jobs.ts';
import { createSampleService } from './samples.ts';
import { createWebhookService } from './webhooks.ts';
import { createUsageService } from './usage.ts';

export type Services = ReturnType<typeof createServices>;

/** Every service of the /v1 routes, each given its connections and settings once (routes pass only the request's values). */
export function createServices(deps: AppDeps, streams: StreamRegistry) {
  const { db, storage, queues, bus, config } = deps;
  const redisKeyPrefix = config.redisKeyPrefix;
  return {
    datasets: createDatasetService({ db, storage, queues, maxUploadBytes: config.maxUploadBytes }),
    models: createModelService({ db, storage, queues, maxUploadBytes: config.maxUploadBytes, importAllowList: config.importAllowList }),
    jobs: createJobService({ db, storage, queues, bus, redisKeyPrefix, streams }),
    samples: createSampleService({ db, storage, queues, bus, redisKeyPrefix }),
    webhooks: createWebhookService({ db, allowPrivate: config.webhooks.allowPrivate }),
    usage: createUsageService({ db }),
  };
}
