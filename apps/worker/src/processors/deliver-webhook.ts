import { attemptWebhookDelivery, WebhookRetryLater, type QueueJob } from '@npo/platform';
import type { WebhookDeliveryPayload } from '@npo/contracts';
import type { WorkerDeps } from '../deps.ts';

/** One attempt of a webhook delivery; a failed attempt inside the retry window is retried after the wait it names. */
export async function deliverWebhookJob(deps: WorkerDeps, job: QueueJob<WebhookDeliveryPayload>) {
  const { deliveryId } = job.data;
  const result = await attemptWebhookDelivery(deps, deliveryId);
  if (result.outcome === 'retry') throw new WebhookRetryLater(result.delayMs!, `webhook delivery ${deliveryId} failed; next attempt in ${result.delayMs} ms`);
  return result;
}

/** BullMQ's wait before the next attempt: the one the failed attempt computed (1 s if it crashed instead). */
export const webhookBackoff = (_attemptsMade: number, _type?: string, err?: Error) => (err instanceof WebhookRetryLater ? err.delayMs : 1000);
