import { USAGE_PERIOD_MAX_DAYS, ValidationError, type TenantUsage } from '@npo/contracts';
import { tenantUsage, type Db } from '@npo/platform';

const DAY_MS = 86_400_000;
const DEFAULT_PERIOD_DAYS = 30;

function instant(value: string, field: string): Date {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new ValidationError(`${field} must be an ISO 8601 date-time, got ${JSON.stringify(value).slice(0, 100)}`, { field: `querystring.${field}` });
  return d;
}

export type UsageService = ReturnType<typeof createUsageService>;

/** A tenant's usage: the operation of /v1/usage, with the database given once. */
export function createUsageService(deps: { db: Db }) {
  return { ofPeriod: (tenantId: string, q: { from?: string; to?: string }) => usageOf(deps.db, tenantId, q) };
}

/** The tenant's device time and cost of work that ended in [from, to): default the 30 days up to now. */
async function usageOf(db: Db, tenantId: string, q: { from?: string; to?: string }): Promise<TenantUsage> {
  const to = q.to ? instant(q.to, 'to') : new Date();
  const from = q.from ? instant(q.from, 'from') : new Date(to.getTime() - DEFAULT_PERIOD_DAYS * DAY_MS);
  if (from >= to) throw new ValidationError(`from (${from.toISOString()}) must be before to (${to.toISOString()})`, { field: 'querystring.from' });
  if (to.getTime() - from.getTime() > USAGE_PERIOD_MAX_DAYS * DAY_MS)
    throw new ValidationError(`the period may cover at most ${USAGE_PERIOD_MAX_DAYS} days; ask for several periods`, { field: 'querystring.from', max_days: USAGE_PERIOD_MAX_DAYS });
  return { from: from.toISOString(), to: to.toISOString(), ...(await tenantUsage(db, tenantId, from, to)) };
}
