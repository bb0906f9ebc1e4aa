import Fastify, { type FastifyInstance } from 'fastify';
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { ErrorResponse } from '@npo/contracts';
import type { AppDeps } from './deps.ts';
import { registerErrorHandling, frameworkErrors } from './plugins/errors.ts';
import { registerValidators } from './plugins/validation.ts';
import { redisDown } from './plugins/redis-availability.ts';
import { StreamRegistry } from './services/sse-streams.ts';
import { createMetrics } from './plugins/metrics.ts';
import { healthRoutes } from './routes/health.ts';
import { v1Routes } from './routes/v1.ts';
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

  const metrics = await createMetrics(deps);
  app.addHook('onClose', async () => metrics.stop());
  healthRoutes(app, deps, metrics);
  await app.register(v1Routes, { prefix: '/v1', deps, streams: new StreamRegistry(deps.config.sseStreamsPerKey) });
  dashboardRoutes(app);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
