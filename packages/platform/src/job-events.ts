import { Channels, withStatusAlias } from '@npo/contracts';
import type { Db } from './db/client.ts';
import type { EventBus } from './pubsub.ts';
import type { Queues } from './queues.ts';
import { emitJobWebhook } from './webhooks/emit.ts';

export interface JobEventMessage { id: string; type: string; data: Record<string, unknown>; created_at: string }

/**
 * Writes a job event to Postgres (the durable record), publishes it on Redis for live SSE views, and queues the
 * webhook deliveries it causes (a terminal state, a checkpoint). A `state` event carries the job's status under both
 * names, `status` and the deprecated `state`.
 */
export async function recordJobEvent(deps: { db: Db; bus: EventBus; queues: Queues; redisKeyPrefix: string }, jobId: string, type: string, given: Record<string, unknown>): Promise<JobEventMessage> {
  const data = withStatusAlias(type, given);
  const ev = await deps.db.jobEvent.create({ data: { job_id: jobId, type, data: data as object } });
  const msg = { id: String(ev.id), type, data, created_at: ev.created_at.toISOString() };
  await deps.bus.publish(Channels.jobEvents(deps.redisKeyPrefix, jobId), msg).catch(() => {}); // live view only
  await emitJobWebhook(deps, jobId, type, data);
  return msg;
}
