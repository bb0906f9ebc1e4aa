import { Redis } from 'ioredis';

// BullMQ workers need `maxRetriesPerRequest: null` (a blocking command must wait out a Redis restart instead
// of failing); workers use it everywhere so a restarted Redis loses nothing accepted. The API is the exception
// (`failFast`): a request must not wait for a Redis that is down, so commands fail at once while it is away and
// the API answers 503; ioredis reconnects in the background either way.
export function createRedis(url: string, name = 'npo', o: { failFast?: boolean } = {}): Redis {
  const failFast = o.failFast ? { maxRetriesPerRequest: 1, enableOfflineQueue: false } : { maxRetriesPerRequest: null };
  return new Redis(url, { ...failFast, connectionName: name, lazyConnect: false });
}

/** Resolves once `redis` is connected, or after `timeoutMs` (a fail-fast connection is then used as it is: requests get 503 until it connects). */
export function redisReady(redis: Redis, timeoutMs: number): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => { clearTimeout(timer); redis.off('ready', onReady); resolve(ok); };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    redis.on('ready', onReady);
  });
}
export type { Redis };
