import { newId, TERMINAL_STATES, type JobState, type WebhookEventType } from '@npo/contracts';
import type { Db } from '../db/client.ts';
import type { Logger } from '../logger.ts';
import type { Queues } from '../queues.ts';

export interface WebhookEmitDeps { db: Db; queues: Queues; logger?: Logger }

/**
 * Records one delivery per enabled endpoint of the tenant subscribed to `type`, and queues each. Never throws:
 * an event's notification must not fail or hold up the job or validation that caused it.
 */
export async function emitWebhookEvent(deps: WebhookEmitDeps, tenantId: string, type: WebhookEventType, data: Record<string, unknown>): Promise<string[]> {
  try {
    const endpoints = await deps.db.webhookEndpoint.findMany({ where: { tenant_id: tenantId, enabled: true }, select: { id: true, events: true } });
    const ids: string[] = [];
    const timestamp = new Date().toISOString();
    for (const e of endpoints) {
      if (!(e.events as string[]).includes(type)) continue;
      const id = newId('msg');
      await deps.db.webhookDelivery.create({
        data: { id, endpoint_id: e.id, tenant_id: tenantId, event_type: type, payload: { type, timestamp, data } as object, status: 'pending', next_attempt_at: new Date() },
      });
      ids.push(id);
    }
    // Not awaited: with Redis restarting, an add waits until it is back, and the job must not wait with it. A
    // delivery whose add never lands is queued by the worker's sweep (requeueStrandedDeliveries).
    for (const id of ids) {
      deps.queues.webhooks.add('deliver', { deliveryId: id }, { jobId: id })
        .catch((err) => deps.logger?.warn({ delivery: id, err: (err as Error).message }, 'webhook delivery not queued; the sweep will'));
    }
    return ids;
  } catch (err) {
    deps.logger?.warn({ tenant: tenantId, type, err: (err as Error).message }, 'webhook event not recorded');
    return [];
  }
}

/** The webhook event a job event stands for: a terminal state, or a checkpoint. */
function webhookTypeOf(type: string, data: Record<string, unknown>): WebhookEventType | null {
  if (type === 'checkpoint') return 'checkpoint.created';
  if (type === 'state' && TERMINAL_STATES.includes(data.state as JobState)) return `job.${data.state as 'succeeded' | 'failed' | 'cancelled'}`;
  return null;
}

/** Emits the webhook event of a job event, if it has one (called by recordJobEvent, the one writer of job events). */
export async function emitJobWebhook(deps: WebhookEmitDeps, jobId: string, type: string, data: Record<string, unknown>): Promise<void> {
  const event = webhookTypeOf(type, data);
  if (!event) return;
  const job = await deps.db.job.findUnique({
    where: { id: jobId },
    select: { id: true, tenant_id: true, model_id: true, dataset_id: true, method: true, state: true, step: true, total_steps: true, error_code: true, error_message: true },
  }).catch(() => null);
  if (!job) return;
  const summary = {
    id: job.id, model: job.model_id, dataset: job.dataset_id, method: job.method, status: job.state, state: job.state /* deprecated alias */, step: job.step, total_steps: job.total_steps,
    error: job.error_code ? { code: job.error_code, message: job.error_message ?? '' } : null,
  };
  await emitWebhookEvent(deps, job.tenant_id, event, event === 'checkpoint.created' ? { job: summary, checkpoint: data } : { job: summary });
}
