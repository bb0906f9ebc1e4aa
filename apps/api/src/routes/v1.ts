import type { FastifyInstance } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { RateLimitedError } from '@npo/contracts';
import type { AppDeps } from '../deps.ts';
import { registerAuth } from '../plugins/auth.ts';
import { AuthFailureLimiter } from '../plugins/auth-failures.ts';
import { registerRedisAvailability } from '../plugins/redis-availability.ts';
import type { TypeBoxTypeProvider } from '../plugins/type-provider.ts';
import type { StreamRegistry } from '../services/sse-streams.ts';
import { createServices } from '../services/create-services.ts';
import { datasetRoutes } from './datasets.ts';
import { modelRoutes } from './models.ts';
import { jobRoutes } from './jobs.ts';
import { webhookRoutes } from './webhooks.ts';
import { usageRoutes } from './usage.ts';
import { sampleRoutes } from './samples.ts';

export interface V1Options { deps: AppDeps; streams: StreamRegistry }

/**
 * The tenant API, registered with `{ prefix: '/v1' }`. Its hooks are its own (Fastify encapsulation): every route in
 * here, and nothing outside (health, metrics, docs, dashboard), answers 503 while Redis is away, needs an API key, and
 * is rate limited per key. Route files declare paths without the prefix. The router matches the *decoded* path
 * (`/%761/jobs` is /v1/jobs), and so do these hooks, since they belong to the routes matched rather than to URL text.
 */
export async function v1Routes(app: FastifyInstance, { deps, streams }: V1Options): Promise<void> {
  const { config } = deps;
  registerRedisAvailability(app, deps.redis); // first: an outage answers before anything touches Redis
  const failures = new AuthFailureLimiter(deps.redis, config.redisKeyPrefix, config.authFailuresMax, config.rateLimitWindowMs);
  await registerAuth(app, { db: deps.db, bus: deps.bus, redisKeyPrefix: config.redisKeyPrefix, failures, onRevoked: (keyId) => streams.closeKey(keyId) });
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler', // after auth (onRequest), so the limit is keyed by the API key
    max: config.rateLimitMax,
    timeWindow: config.rateLimitWindowMs,
    redis: deps.redis,
    nameSpace: `${config.redisKeyPrefix}:ratelimit:`,
    keyGenerator: (req) => req.auth?.keyId ?? req.ip,
    errorResponseBuilder: (_req, ctx) => new RateLimitedError(`rate limit of ${ctx.max} requests per ${ctx.after} exceeded; retry after ${ctx.after}`, { limit: ctx.max, retry_after: ctx.after }),
  });

  const services = createServices(deps, streams);
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  datasetRoutes(typed, services.datasets);
  modelRoutes(typed, services.models);
  jobRoutes(typed, services.jobs);
  webhookRoutes(typed, services.webhooks);
  usageRoutes(typed, services.usage);
  sampleRoutes(typed, services.samples);
}
