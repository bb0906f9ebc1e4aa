import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { AppDeps } from '../deps.ts';
import { requireMetricsAccess, type Metrics } from '../plugins/metrics.ts';

const withTimeout = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`timed out after ${ms} ms`)), ms).unref())]);

export function healthRoutes(app: FastifyInstance, deps: AppDeps, metrics: Metrics): void {
  app.get('/healthz', { schema: { tags: ['health'], response: { 200: Type.Object({ ok: Type.Boolean() }) } } }, async () => ({ ok: true }));

  app.get('/readyz', {
    schema: { tags: ['health'], summary: 'Postgres, Redis and S3 reachable (each ok or unavailable)', response: { 200: Type.Object({ ok: Type.Boolean(), checks: Type.Record(Type.String(), Type.String()) }), 503: Type.Object({ ok: Type.Boolean(), checks: Type.Record(Type.String(), Type.String()) }) } },
  }, async (request, reply) => {
    const probes: Record<string, () => Promise<unknown>> = {
      postgres: () => deps.db.$queryRawUnsafe('SELECT 1'),
      redis: () => deps.redis.ping(),
      s3: () => deps.storage.ping(),
    };
    const checks: Record<string, string> = {};
    await Promise.all(Object.entries(probes).map(async ([name, probe]) => {
      // anyone may ask: the answer says which backend is down, the log says why (hosts, ports and errors stay inside)
      try { await withTimeout(probe(), 2000); checks[name] = 'ok'; } catch (err) { checks[name] = 'unavailable'; request.log.warn({ err, backend: name }, 'readiness probe failed'); }
    }));
    const ok = Object.values(checks).every((v) => v === 'ok');
    reply.status(ok ? 200 : 503);
    return { ok, checks };
  });

  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    requireMetricsAccess(request, deps.config.metricsToken);
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
