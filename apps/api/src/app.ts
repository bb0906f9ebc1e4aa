import Fastify, { type FastifyInstance } from 'fastify';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { RateLimitedError, ErrorResponse } from '@npo/contracts';
import type { AppDeps } from './deps.ts';
import { registerErrorHandling, frameworkErrors } from './plugins/errors.ts';
import { registerValidators } from './plugins/validation.ts';
import { registerAuth, isV1Route } from './plugins/auth.ts';
import { AuthFailureLimiter } from './plugins/auth-failures.ts';
import { registerRedisAvailability, redisDown } from './plugins/redis-availability.ts';
import { StreamRegistry } from './services/sse-streams.ts';
import { createMetrics } from './plugins/metrics.ts';
import { healthRoutes } from './routes/health.ts';
import { datasetRoutes } from './routes/datasets.ts';
import { modelRoutes } from './routes/models.ts';
import { jobRoutes } from './routes/jobs.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { usageRoutes } from './routes/usage.ts';
import { sampleRoutes } from './routes/samples.ts';
import { dashboardRoutes } from './routes/dashboard.ts';

/** Wires the HTTP application from its dependencies; the only place that knows every route and plugin. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(typeof deps.logger === 'object' ? { loggerInstance: deps.logger } : { logger: deps.logger ?? false }),
    bodyLimit: 1024 * 1024, // JSON bodies; uploads are multipart streams with their own limit
    ajv: { customOptions: { removeAdditional: false } },
    frameworkErrors,
  }) as unknown as FastifyInstance; // a pino instance narrows the logger type; routes only need the base one
  registerValidators(app);
  registerErrorHandling(app, { dependencyDown: redisDown(deps.redis) });
  registerRedisAvailability(app, deps.redis);
  app.addSchema(ErrorResponse);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'NPO Forge API', version: '1.0.0', description: 'Fine-tune diffusion models with Diffusion-NPO / Diffusion-DPO LoRA adapters.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(multipart, {
    limits: { fileSize: deps.config.maxUploadBytes, files: 1, fields: 10, fieldSize: 1024, parts: 12 },
  });

  const failures = new AuthFailureLimiter(deps.redis, deps.config.redisKeyPrefix, deps.config.authFailuresMax, deps.config.rateLimitWindowMs);
  const streams = new StreamRegistry(deps.config.sseStreamsPerKey);
  await registerAuth(app, { db: deps.db, bus: deps.bus, redisKeyPrefix: deps.config.redisKeyPrefix, failures, onRevoked: (keyId) => streams.closeKey(keyId) });
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler', // after auth (onRequest), so the limit is keyed by the API key
    max: deps.config.rateLimitMax,
    timeWindow: deps.config.rateLimitWindowMs,
    redis: deps.redis,
    nameSpace: `${deps.config.redisKeyPrefix}:ratelimit:`,
    keyGenerator: (req) => req.auth?.keyId ?? req.ip,
    allowList: (req) => !isV1Route(req),
    errorResponseBuilder: (_req, ctx) => new RateLimitedError(`rate limit of ${ctx.max} requests per ${ctx.after} exceeded; retry after ${ctx.after}`, { limit: ctx.max, retry_after: ctx.after }),
  });

  const metrics = await createMetrics(deps);
  app.addHook('onClose', async () => metrics.stop());
  healthRoutes(app, deps, metrics);
  datasetRoutes(app, deps);
  modelRoutes(app, deps);
  jobRoutes(app, deps, streams);
  webhookRoutes(app, deps);
  usageRoutes(app, deps);
  sampleRoutes(app, deps);
  dashboardRoutes(app);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
