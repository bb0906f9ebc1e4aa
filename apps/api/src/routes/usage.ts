import type { FastifyInstance } from 'fastify';
import { ErrorResponse, TenantUsage, UsageQuery } from '@npo/contracts';
import type { AppDeps } from '../deps.ts';
import { tenantOf } from '../plugins/auth.ts';
import { usageOf } from '../services/usage.ts';

export function usageRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get('/v1/usage', {
    schema: {
      tags: ['usage'],
      summary: "The tenant's device-seconds by phase, devices, peak memory and cost of the work that ended in [from, to)",
      querystring: UsageQuery,
      response: { 200: TenantUsage, 400: ErrorResponse, 401: ErrorResponse, 429: ErrorResponse },
    },
  }, async (request) => usageOf(deps.db, tenantOf(request), request.query as { from?: string; to?: string }));
}
