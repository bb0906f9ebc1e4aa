import { newId, NotFoundError, ValidationError, type CreateWebhook, type UpdateWebhook } from '@npo/contracts';
import { newWebhookSecret, webhookUrlProblem, type Db } from '@npo/platform';
import { cursorWhere, page } from './pagination.ts';

export interface WebhookServiceDeps { db: Db; allowPrivate: boolean }

type EndpointRow = NonNullable<Awaited<ReturnType<Db['webhookEndpoint']['findUnique']>>>;
type DeliveryRow = NonNullable<Awaited<ReturnType<Db['webhookDelivery']['findUnique']>>>;
type AttemptRow = Awaited<ReturnType<Db['webhookAttempt']['findMany']>>[number];

const endpointToApi = (r: EndpointRow) => ({
  id: r.id, url: r.url, events: r.events as string[], description: r.description, enabled: r.enabled,
  created_at: r.created_at.toISOString(), updated_at: r.updated_at.toISOString(),
});

const deliveryToApi = (r: DeliveryRow) => ({
  id: r.id, endpoint: r.endpoint_id, event_type: r.event_type, payload: r.payload as Record<string, unknown>, status: r.status as 'pending' | 'succeeded' | 'failed',
  attempts: r.attempts, next_attempt_at: r.next_attempt_at?.toISOString() ?? null, created_at: r.created_at.toISOString(), updated_at: r.updated_at.toISOString(),
});

const attemptToApi = (a: AttemptRow) => ({
  attempt: a.attempt, status_code: a.status_code, error: a.error, duration_ms: a.duration_ms, response_excerpt: a.response_excerpt, created_at: a.created_at.toISOString(),
});

function checkUrl(deps: WebhookServiceDeps, url: string): void {
  const problem = webhookUrlProblem(url, deps.allowPrivate);
  if (problem) throw new ValidationError(problem.message, { field: 'body.url' }, problem.code);
}

async function findEndpoint(db: Db, tenantId: string, id: string): Promise<EndpointRow> {
  const row = await db.webhookEndpoint.findUnique({ where: { id } });
  if (!row || row.tenant_id !== tenantId) throw new NotFoundError('webhook', id);
  return row;
}

/** Registers an endpoint with a new signing secret; the answer is the only one that shows the secret. */
export async function createWebhook(deps: WebhookServiceDeps, tenantId: string, body: CreateWebhook) {
  checkUrl(deps, body.url);
  const row = await deps.db.webhookEndpoint.create({
    data: { id: newId('whk'), tenant_id: tenantId, url: body.url, secret: newWebhookSecret(), events: body.events, description: body.description ?? '' },
  });
  return { ...endpointToApi(row), secret: row.secret };
}

export async function listWebhooks(db: Db, tenantId: string, q: { cursor?: string; limit?: number }) {
  const limit = q.limit ?? 50;
  const rows = await db.webhookEndpoint.findMany({ where: { tenant_id: tenantId, ...cursorWhere(q.cursor) }, orderBy: { id: 'desc' }, take: limit + 1 });
  return page(rows, limit, endpointToApi);
}

export async function getWebhook(db: Db, tenantId: string, id: string) {
  return endpointToApi(await findEndpoint(db, tenantId, id));
}

export async function updateWebhook(deps: WebhookServiceDeps, tenantId: string, id: string, body: UpdateWebhook) {
  await findEndpoint(deps.db, tenantId, id);
  if (body.url !== undefined) checkUrl(deps, body.url);
  const row = await deps.db.webhookEndpoint.update({
    where: { id },
    data: { ...(body.url !== undefined ? { url: body.url } : {}), ...(body.events ? { events: body.events } : {}), ...(body.description !== undefined ? { description: body.description } : {}), ...(body.enabled !== undefined ? { enabled: body.enabled } : {}) },
  });
  return endpointToApi(row);
}

/** Deletes the endpoint; its pending deliveries end as failed at their next attempt ("endpoint deleted"). */
export async function deleteWebhook(db: Db, tenantId: string, id: string): Promise<void> {
  await findEndpoint(db, tenantId, id);
  await db.webhookEndpoint.delete({ where: { id } });
}

export async function listDeliveries(db: Db, tenantId: string, id: string, q: { cursor?: string; limit?: number; status?: string }) {
  await findEndpoint(db, tenantId, id);
  const limit = q.limit ?? 50;
  const rows = await db.webhookDelivery.findMany({
    where: { endpoint_id: id, ...(q.status ? { status: q.status } : {}), ...cursorWhere(q.cursor) },
    orderBy: { id: 'desc' },
    take: limit + 1,
  });
  return page(rows, limit, deliveryToApi);
}

/** One delivery with every attempt made (status, error, time, the start of the answer), oldest first. */
export async function getDelivery(db: Db, tenantId: string, id: string, deliveryId: string) {
  await findEndpoint(db, tenantId, id);
  const row = await db.webhookDelivery.findUnique({ where: { id: deliveryId } });
  if (!row || row.endpoint_id !== id) throw new NotFoundError('webhook delivery', deliveryId);
  const attempts = await db.webhookAttempt.findMany({ where: { delivery_id: deliveryId }, orderBy: { attempt: 'asc' } });
  return { ...deliveryToApi(row), attempt_log: attempts.map(attemptToApi) };
}
