import { Registry, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';
import { Channels, JOB_STATES } from '@npo/contracts';
import type { FastifyRequest } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import { UnauthorizedError } from '@npo/contracts';
import type { AppDeps } from '../deps.ts';

// Prometheus metrics. Queue depth and jobs-by-state are read when scraped; the training step time histogram
// is fed by the step events workers publish on Redis (the API sees every job's events that way).
export interface Metrics { registry: Registry; stop: () => Promise<void> }

export async function createMetrics(deps: AppDeps): Promise<Metrics> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'npo_api_' });
  new Gauge({
    name: 'npo_queue_depth', help: 'BullMQ jobs waiting or delayed, by queue', labelNames: ['queue'], registers: [registry],
    async collect() {
      for (const q of deps.queues.all()) this.set({ queue: q.name }, await q.getJobCountByTypes('waiting', 'delayed', 'prioritized'));
    },
  });
  new Gauge({
    name: 'npo_jobs', help: 'training jobs by state', labelNames: ['state'], registers: [registry],
    async collect() {
      const rows = await deps.db.job.groupBy({ by: ['state'], _count: { _all: true } });
      for (const s of JOB_STATES) this.set({ state: s }, rows.find((r) => r.state === s)?._count._all ?? 0);
    },
  });
  // Totals over every tenant (no per-tenant labels: /metrics is the operator's); tenants read theirs at /v1/usage.
  new Gauge({
    name: 'npo_device_seconds', help: 'device-seconds spent by workers, by phase and device kind', labelNames: ['phase', 'device'], registers: [registry],
    async collect() {
      this.reset();
      const rows = await deps.db.usageRecord.groupBy({ by: ['phase', 'device_kind', 'device_count'], _sum: { seconds: true } });
      for (const r of rows) this.inc({ phase: r.phase, device: r.device_kind }, (r._sum.seconds ?? 0) * r.device_count);
    },
  });
  new Gauge({
    name: 'npo_cost', help: 'cost of the device time spent, priced by PRICE_TABLE, by currency', labelNames: ['currency'], registers: [registry],
    async collect() {
      this.reset();
      const rows = await deps.db.usageRecord.groupBy({ by: ['currency'], _sum: { cost: true } });
      for (const r of rows) this.set({ currency: r.currency }, r._sum.cost ?? 0);
    },
  });
  const stepTime = new Histogram({
    name: 'npo_train_step_seconds', help: 'training step wall time', registers: [registry],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
  });
  const unsubscribe = await deps.bus.psubscribe(Channels.jobEvents(deps.config.redisKeyPrefix, '*'), (msg) => {
    const ev = msg as { type?: string; data?: { step_ms?: number } };
    if (ev.type === 'step' && typeof ev.data?.step_ms === 'number') stepTime.observe(ev.data.step_ms / 1000);
  });
  return { registry, stop: unsubscribe };
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/**
 * /metrics is for the operator's scraper, not for tenants: with METRICS_TOKEN set it needs `Authorization: Bearer
 * <token>`; without one, only loopback clients (a sidecar, a local Prometheus) may read it.
 */
export function requireMetricsAccess(request: FastifyRequest, token: string): void {
  if (!token) {
    if (LOOPBACK.has(request.ip)) return;
    throw new UnauthorizedError('/metrics is served to loopback clients only; set METRICS_TOKEN to scrape it from elsewhere', 'metrics_unauthorized');
  }
  const given = Buffer.from(/^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1] ?? '');
  const want = Buffer.from(token);
  if (given.length !== want.length || !timingSafeEqual(given, want)) throw new UnauthorizedError('/metrics needs Authorization: Bearer <METRICS_TOKEN>', 'metrics_unauthorized');
}
