import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import { nextWebhookAttemptAt } from './retry.ts';
import { sendWebhook } from './send.ts';
import { webhookHeaders } from './signature.ts';

/** Another attempt is due in `delayMs`: the queue's backoff strategy reads the wait from this error. */
export class WebhookRetryLater extends Error {
  constructor(readonly delayMs: number, message: string) {
    super(message);
    this.name = 'WebhookRetryLater';
  }
}

export type AttemptOutcome = 'succeeded' | 'failed' | 'retry' | 'skipped';

/**
 * One attempt of one delivery: sign now, POST, log the attempt, then mark the delivery succeeded, failed (the
 * endpoint is gone or disabled, the address is refused, or the retry window is over) or due again later.
 */
export async function attemptWebhookDelivery(deps: { db: Db; config: Pick<Config, 'webhooks'> }, deliveryId: string, now = Date.now): Promise<{ outcome: AttemptOutcome; delayMs?: number }> {
  const { db } = deps;
  const o = deps.config.webhooks;
  const delivery = await db.webhookDelivery.findUnique({ where: { id: deliveryId } });
  if (!delivery || delivery.status !== 'pending') return { outcome: 'skipped' };
  const endpoint = await db.webhookEndpoint.findUnique({ where: { id: delivery.endpoint_id } });
  const attempt = delivery.attempts + 1;
  if (!endpoint || !endpoint.enabled) {
    await db.$transaction([
      db.webhookAttempt.create({ data: { delivery_id: deliveryId, attempt, error: endpoint ? 'endpoint disabled' : 'endpoint deleted', duration_ms: 0 } }),
      db.webhookDelivery.update({ where: { id: deliveryId }, data: { status: 'failed', attempts: attempt, next_attempt_at: null } }),
    ]);
    return { outcome: 'failed' };
  }
  const body = JSON.stringify(delivery.payload);
  const result = await sendWebhook(endpoint.url, webhookHeaders(endpoint.secret, deliveryId, body, now()), body, { timeoutMs: o.timeoutMs, allowPrivate: o.allowPrivate });
  const next = result.ok || !result.retryable ? null : nextWebhookAttemptAt(delivery.created_at, attempt, now(), { baseMs: o.retryBaseMs, windowMs: o.retryWindowMs });
  const status = result.ok ? 'succeeded' : next ? 'pending' : 'failed';
  await db.$transaction([
    db.webhookAttempt.create({
      data: { delivery_id: deliveryId, attempt, status_code: result.statusCode, error: result.error ?? (result.ok ? null : `HTTP ${result.statusCode}`), duration_ms: result.durationMs, response_excerpt: result.responseExcerpt },
    }),
    db.webhookDelivery.update({ where: { id: deliveryId }, data: { status, attempts: attempt, next_attempt_at: next } }),
  ]);
  if (status === 'pending') return { outcome: 'retry', delayMs: next!.getTime() - now() };
  return { outcome: status };
}
