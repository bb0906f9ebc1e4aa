import type { Db } from '../db/client.ts';
import { USAGE_PHASES, type UsagePhase } from './meter.ts';

// Usage as tenants read it: a job's (in the job resource, from the running totals on its row) and a tenant's over a
// period (GET /v1/usage, from the rows). Both fold rows the same way (addUsage), so the two always agree.

export interface UsageSummary {
  device_seconds: Record<UsagePhase | 'total', number>;
  devices: { kind: string; count: number; seconds: number }[];
  peak_rss_mb: number | null;
  /** One entry per currency the rows were priced in (one, unless PRICE_TABLE changed currency). */
  cost: { amount: number; currency: string }[];
}

export interface UsageRow { phase: string; device_kind: string; device_count: number; seconds: number; peak_rss_mb: number; cost: number; currency: string }

/**
 * Usage rows summed, unrounded: the shape of `jobs.usage` (the meter folds each row it writes into it, in the same
 * transaction; the migration that added it filled it from the rows). Every key may be missing: `{}` is no usage.
 */
export interface UsageTotals {
  /** device-seconds (seconds × devices) per phase */
  device_seconds?: Record<string, number>;
  devices?: { kind: string; count: number; seconds: number }[];
  peak_rss_mb?: number | null;
  /** amount per currency */
  cost?: Record<string, number>;
}

/** `totals` with one more row (or a group of rows summed) in it; `totals` itself is left as it was. */
export function addUsage(totals: UsageTotals, r: UsageRow): UsageTotals {
  const seconds = { ...totals.device_seconds };
  seconds[r.phase] = (seconds[r.phase] ?? 0) + r.seconds * r.device_count;
  const devices = (totals.devices ?? []).map((d) => ({ ...d }));
  const device = devices.find((d) => d.kind === r.device_kind && d.count === r.device_count);
  if (device) device.seconds += r.seconds;
  else devices.push({ kind: r.device_kind, count: r.device_count, seconds: r.seconds });
  const cost = { ...totals.cost, [r.currency]: (totals.cost?.[r.currency] ?? 0) + r.cost };
  return { device_seconds: seconds, devices, peak_rss_mb: Math.max(totals.peak_rss_mb ?? 0, r.peak_rss_mb), cost };
}

const round = (v: number, digits: number) => Number(v.toFixed(digits));

/** The API's shape of summed usage: every phase named, rounded to milliseconds, micro-units of cost and 0.1 MiB. */
export function presentUsage(t: UsageTotals): UsageSummary {
  const seconds = Object.fromEntries([...USAGE_PHASES, 'total'].map((p) => [p, 0])) as UsageSummary['device_seconds'];
  for (const [phase, s] of Object.entries(t.device_seconds ?? {})) {
    if (phase in seconds) seconds[phase as UsagePhase] += s;
    seconds.total += s;
  }
  for (const k of Object.keys(seconds) as (keyof typeof seconds)[]) seconds[k] = round(seconds[k], 3);
  return {
    device_seconds: seconds,
    devices: (t.devices ?? []).map((d) => ({ ...d, seconds: round(d.seconds, 3) })),
    peak_rss_mb: t.peak_rss_mb == null ? null : round(t.peak_rss_mb, 1),
    cost: Object.entries(t.cost ?? {}).map(([currency, amount]) => ({ amount: round(amount, 6), currency })),
  };
}

export const summarize = (rows: UsageRow[]): UsageSummary => presentUsage(rows.reduce(addUsage, {}));

/** A job's usage, from the running totals on its row: no read of usage rows (job status polling is the hot path). */
export const jobUsage = (job: { usage: unknown }): UsageSummary => presentUsage((job.usage ?? {}) as UsageTotals);

// Rows are summed in Postgres, grouped by what a summary tells apart, so a long history costs one small answer.
const GROUP = ['phase', 'device_kind', 'device_count', 'currency'] as const;
type Grouped = { phase: string; device_kind: string; device_count: number; currency: string; _sum: { seconds: number | null; cost: number | null }; _max: { peak_rss_mb: number | null } };
const asRow = (g: Grouped): UsageRow => ({
  phase: g.phase, device_kind: g.device_kind, device_count: g.device_count, currency: g.currency,
  seconds: g._sum.seconds ?? 0, cost: g._sum.cost ?? 0, peak_rss_mb: g._max.peak_rss_mb ?? 0,
});

/** A tenant's usage of rows that ended in [from, to), and how many jobs and sample sets it came from. */
export async function tenantUsage(db: Db, tenantId: string, from: Date, to: Date): Promise<UsageSummary & { jobs: number; sample_sets: number }> {
  const where = { tenant_id: tenantId, ended_at: { gte: from, lt: to } };
  const [groups, jobs, sampleSets] = await Promise.all([
    db.usageRecord.groupBy({ by: [...GROUP], where, _sum: { seconds: true, cost: true }, _max: { peak_rss_mb: true } }),
    db.usageRecord.groupBy({ by: ['job_id'], where: { ...where, job_id: { not: null }, sample_set_id: null } }),
    db.usageRecord.groupBy({ by: ['sample_set_id'], where: { ...where, sample_set_id: { not: null } } }),
  ]);
  return { ...summarize(groups.map((g) => asRow(g as Grouped))), jobs: jobs.length, sample_sets: sampleSets.length };
}
