import { ErrorResponse, TenantUsage, UsageQuery } from '@npo/contracts';
import type { TypedApp } from '../plugins/type-provider.ts';
import { tenantOf } from '../plugins/auth.ts';
import type { UsageService } from '../services/usage.ts';

export function usageRoutes(app: TypedApp, usage: UsageService): void {
  app.get('/usage', {
    schema: {
      tags: ['usage'],
      summary: "The tenant's device-seconds by phase, devices, peak memory and cost of the work that ended in [from, to)",
      querystring: UsageQuery,
      response: { 200: TenantUsage, 400: ErrorResponse, 401: ErrorResponse, 429: ErrorResponse },
    },
  }, async (request) => usage.ofPeriod(tenantOf(request), request.query));
}
