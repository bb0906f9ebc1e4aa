import { Redis } from 'ioredis';

// BullMQ workers need `maxRetriesPerRequest: null` (a blocking command must wait out a Redis restart instead
// of failing); we use the same setting everywhere so a restarted Redis loses nothing accepted.
export function createRedis(url: string, name = 'npo'): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, connectionName: name, lazyConnect: false });
}
export type { Redis };
