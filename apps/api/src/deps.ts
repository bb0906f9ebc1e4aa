import type { Config, Db, Storage, Queues, EventBus, Logger } from '@npo/platform';
import type { Redis } from 'ioredis';

/** Everything the API needs from the outside world; server.ts builds it, tests build their own. */
export interface AppDeps {
  config: Config;
  db: Db;
  storage: Storage;
  queues: Queues;
  redis: Redis;
  bus: EventBus;
  logger?: Logger | boolean;
}
