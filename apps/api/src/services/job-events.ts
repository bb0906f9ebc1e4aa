import { withStatusAlias } from '@npo/contracts';
import type { Db } from '@npo/platform';

// A job's stored events as the API shows them: the JSON page and the SSE replay read the same rows the same way (a
// `state` event stored before jobs said `status` gets the name here too).
export function eventToApi(e: { id: bigint; type: string; data: unknown; created_at: Date }) {
  return { id: String(e.id), type: e.type, data: withStatusAlias(e.type, (e.data ?? {}) as Record<string, unknown>), created_at: e.created_at.toISOString() };
}

/** One page (at most `limit`) of a job's stored events after `afterId`, oldest first. */
export async function eventsSince(db: Db, jobId: string, afterId: bigint, limit = 1000) {
  const rows = await db.jobEvent.findMany({ where: { job_id: jobId, id: { gt: afterId } }, orderBy: { id: 'asc' }, take: limit });
  return rows.map(eventToApi);
}
