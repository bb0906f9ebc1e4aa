import { newId, NotFoundError, ValidationError, type CreateWebhook, type UpdateWebhook } from '@npo/contracts';
import { newWebhookSecret, webhookUrlProblem, type Db, type WebhookEndpointRow, type WebhookDeliveryRow, type WebhookAttemptRow } from '@npo/platform';
import { cursorWhere, page } from './pagination.ts';

export interface WebhookServiceDeps { db: Db; allowPrivate: boolean }
export type WebhookService = ReturnType<typeof createWebhookService>;

const endpointToApi = (r: WebhookEndpointRow) => ({
  id: r.id, url: r.url, events: r.events as string[], description: r.description, enabled: r.enabled,
  created_at: r.created_at.toISOString(), updated_at: r.updated_at.toISOString(),
});

const deliveryToApi = (r: WebhookDeliveryRow) => ({
  id: r.id, endpoint: r.endpoint_id, event_type: r.event_type, payload: r.payload as Record<string, unknown>, status: r.status as 'pending' | 'succeeded' | 'failed',
  attempts: r.attempts, next_attempt_at: r.next_attempt_at?.toISOString() ?? null, created_at: r.created_at.toISOString(), updated_at: r.updated_at.toISOString(),
});

const attemptToApi = (a: WebhookAttemptRow) => ({
  attempt: a.attempt, status_code: a.status_code, error: a.error, duration_ms: a.duration_ms, response_excerpt: a.response_excerpt, created_at: a.created_at.toISOString(),
});

/** Webhook endpoints and their deliveries: every operation the /v1/webhooks routes make, with the connections given once. */
export function createWebhookService(deps: WebhookServiceDeps) {
  const { db } = deps;

  function checkUrl(url: string): void {
    const problem = webhookUrlProblem(url, deps.allowPrivate);
    if (problem) throw new ValidationError(problem.message, { field: 'body.url' }, problem.code);
  }

  async function findEndpoint(tenantId: string, id: string): Promise<WebhookEndpointRow> {
    const row = await db.webhookEndpoint.findUnique({ where: { id } });
    if (!row || row.tenant_id !== tenantId) throw new NotFoundError('webhook', id);
    return row;
  }

  /** Registers an endpoint with a new signing secret; the answer is the only one that shows the secret. */
  async function createWebhook(tenantId: string, body: CreateWebhook) {
    checkUrl(body.url);
    const row = await db.webhookEndpoint.create({
      data: { id: newId('whk'), tenant_id: tenantId, url: body.url, secret: newWebhookSecret(), events: body.events, description: body.description ?? '' },
    });
    return { ...endpointToApi(row), secret: row.secret };
  }

  async function listWebhooks(tenantId: string, q: { cursor?: string; limit?: number }) {
    const limit = q.limit ?? 50;
    const rows = await db.webhookEndpoint.findMany({ where: { tenant_id: tenantId, ...cursorWhere(q.cursor) }, orderBy: { id: 'desc' }, take: limit + 1 });
    return page(rows, limit, endpointToApi);
  }

  async function getWebhook(tenantId: string, id: string) {
    return endpointToApi(await findEndpoint(tenantId, id));
  }

  async function updateWebhook(tenantId: string, id: string, body: UpdateWebhook) {
    await findEndpoint(tenantId, id);
    if (body.url !== undefined) checkUrl(body.url);
    const row = await db.webhookEndpoint.update({
      where: { id },
      data: { ...(body.url !== undefined ? { url: body.url } : {}), ...(body.events ? { events: body.events } : {}), ...(body.description !== undefined ? { description: body.description } : {}), ...(body.enabled !== undefined ? { enabled: body.enabled } : {}) },
    });
    return endpointToApi(row);
  }

  /** Deletes the endpoint; its pending deliveries end as failed at their next attempt ("endpoint deleted"). */
  async function deleteWebhook(tenantId: string, id: string): Promise<void> {
    await findEndpoint(tenantId, id);
    await db.webhookEndpoint.delete({ where: { id } });
  }

  async function listDeliveries(tenantId: string, id: string, q: { cursor?: string; limit?: number; status?: string }) {
    await findEndpoint(tenantId, id);
    const limit = q.limit ?? 50;
    const rows = await db.webhookDelivery.findMany({
      where: { endpoint_id: id, ...(q.status ? { status: q.status } : {}), ...cursorWhere(q.cursor) },
      orderBy: { id: 'desc' },
      take: limit + 1,
    });
    return page(rows, limit, deliveryToApi);
  }

  /** One delivery with every attempt made (status, error, time, the start of the answer), oldest first. */
  async function getDelivery(tenantId: string, id: string, deliveryId: string) {
    await findEndpoint(tenantId, id);
    const row = await db.webhookDelivery.findUnique({ where: { id: deliveryId } });
    if (!row || row.endpoint_id !== id) throw new NotFoundError('webhook delivery', deliveryId);
    const attempts = await db.webhookAttempt.findMany({ where: { delivery_id: deliveryId }, orderBy: { attempt: 'asc' } });
    return { ...deliveryToApi(row), attempt_log: attempts.map(attemptToApi) };
  }

  return {
    create: createWebhook, list: listWebhooks, get: getWebhook, update: updateWebhook, remove: deleteWebhook, listDeliveries, getDelivery,
  };
}
