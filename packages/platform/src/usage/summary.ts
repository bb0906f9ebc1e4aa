import type { Db } from '../db/client.ts';
import { USAGE_PHASES, type UsagePhase } from './meter.ts';

// The one reader of usage rows: a job's usage (in the job resource) and a tenant's over a period (GET /v1/usage).

export interface UsageSummary {
  device_seconds: Record<UsagePhase | 'total', number>;
  devices: { kind: string; count: number; seconds: number }[];
  peak_rss_mb: number | null;
  /** One entry per currency the rows were priced in (one, unless PRICE_TABLE changed currency). */
  cost: { amount: number; currency: string }[];
}

interface Row { phase: string; device_kind: string; device_count: number; seconds: number; peak_rss_mb: number; cost: number; currency: string }

const round = (v: number, digits: number) => Number(v.toFixed(digits));

export function summarize(rows: Row[]): UsageSummary {
  const seconds = Object.fromEntries([...USAGE_PHASES, 'total'].map((p) => [p, 0])) as UsageSummary['device_seconds'];
  const devices = new Map<string, { kind: string; count: number; seconds: number }>();
  const cost = new Map<string, number>();
  let peak: number | null = null;
  for (const r of rows) {
    const deviceSeconds = r.seconds * r.device_count;
    if (r.phase in seconds) seconds[r.phase as UsagePhase] += deviceSeconds;
    seconds.total += deviceSeconds;
    const key = `${r.device_kind}×${r.device_count}`;
    const d = devices.get(key) ?? { kind: r.device_kind, count: r.device_count, seconds: 0 };
    d.seconds += r.seconds;
    devices.set(key, d);
    cost.set(r.currency, (cost.get(r.currency) ?? 0) + r.cost);
    peak = Math.max(peak ?? 0, r.peak_rss_mb);
  }
  for (const k of Object.keys(seconds) as (keyof typeof seconds)[]) seconds[k] = round(seconds[k], 3);
  return {
    device_seconds: seconds,
    devices: [...devices.values()].map((d) => ({ ...d, seconds: round(d.seconds, 3) })),
    peak_rss_mb: peak === null ? null : round(peak, 1),
    cost: [...cost].map(([currency, amount]) => ({ amount: round(amount, 6), currency })),
  };
}

// Rows are summed in Postgres, grouped by what a summary tells apart, so a long history costs one small answer.
const GROUP = ['phase', 'device_kind', 'device_count', 'currency'] as const;
type Grouped = { phase: string; device_kind: string; device_count: number; currency: string; _sum: { seconds: number | null; cost: number | null }; _max: { peak_rss_mb: number | null } };
const asRow = (g: Grouped): Row => ({
  phase: g.phase, device_kind: g.device_kind, device_count: g.device_count, currency: g.currency,
  seconds: g._sum.seconds ?? 0, cost: g._sum.cost ?? 0, peak_rss_mb: g._max.peak_rss_mb ?? 0,
});

/** Usage per job id (jobs with no rows get an all-zero summary). */
export async function jobUsage(db: Db, jobIds: string[]): Promise<Map<string, UsageSummary>> {
  const groups = jobIds.length
    ? await db.usageRecord.groupBy({ by: ['job_id', ...GROUP], where: { job_id: { in: jobIds } }, _sum: { seconds: true, cost: true }, _max: { peak_rss_mb: true } })
    : [];
  const byJob = new Map<string, Row[]>(jobIds.map((id) => [id, []]));
  for (const g of groups) byJob.get(g.job_id!)?.push(asRow(g as Grouped));
  return new Map([...byJob].map(([id, rs]) => [id, summarize(rs)]));
}

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
