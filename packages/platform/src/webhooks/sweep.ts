import type { Db } from '../db/client.ts';
import type { Queues } from '../queues.ts';

/**
 * Postgres is the record of deliveries still to make; the queue only schedules them. A pending delivery whose
 * queue entry is missing (the add was lost with Redis, or never made) or failed (the processor crashed on it
 * past its backstop) is queued again, due at its `next_attempt_at`. Run at worker start and periodically.
 */
export async function requeueStrandedDeliveries(deps: { db: Db; queues: Queues }, graceMs = 60_000, now = Date.now()): Promise<number> {
  const due = await deps.db.webhookDelivery.findMany({
    where: { status: 'pending', next_attempt_at: { lte: new Date(now - graceMs) } },
    select: { id: true, next_attempt_at: true },
    orderBy: { next_attempt_at: 'asc' },
    take: 1000,
  });
  let n = 0;
  for (const d of due) {
    const existing = await deps.queues.webhooks.getJob(d.id);
    if (existing && !(await existing.isFailed()) && !(await existing.isCompleted())) continue;
    if (existing) await existing.remove();
    await deps.queues.webhooks.add('deliver', { deliveryId: d.id }, { jobId: d.id });
    n++;
  }
  return n;
}
