import type { FastifyInstance } from 'fastify';
import { DependencyUnavailableError } from '@npo/contracts';
import type { Redis } from '@npo/platform';

/**
 * Every /v1 request touches Redis (the auth-failure limiter, the rate limit, queues, events). While Redis is away
 * they answer 503 `unavailable` at once, with Retry-After, instead of waiting in a command queue; the API's
 * connection fails fast (createRedis failFast) so a request caught by the outage mid-way ends the same way.
 * Registered in the /v1 plugin before auth, so it is the first hook of every /v1 request and of nothing else.
 */
export function registerRedisAvailability(app: FastifyInstance, redis: Redis): void {
  const down = redisDown(redis);
  app.addHook('onRequest', async (_request, reply) => {
    if (!down()) return;
    const err = new DependencyUnavailableError('redis');
    reply.header('retry-after', String(err.details.retry_after));
    throw err;
  });
}

/** Whether the API's Redis connection is away (then an unexpected error is the outage's doing: 503, not 500). */
export const redisDown = (redis: Redis) => () => redis.status !== 'ready';
