import type { FastifyInstance } from 'fastify';
import {
  CreateWebhook, UpdateWebhook, Webhook, WebhookCreated, WebhookList, WebhookListQuery, WebhookDeliveryDetail, WebhookDeliveryList,
  WebhookDeliveryListQuery, WebhookDeliveryParams, IdParams, ErrorResponse,
} from '@npo/contracts';
import type { AppDeps } from '../deps.ts';
import { tenantOf } from '../plugins/auth.ts';
import * as webhooks from '../services/webhooks.ts';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse, 415: ErrorResponse, 429: ErrorResponse };
const idOf = (p: unknown) => (p as { id: string }).id;

export function webhookRoutes(app: FastifyInstance, deps: AppDeps): void {
  const svc = { db: deps.db, allowPrivate: deps.config.webhooks.allowPrivate };
  const tags = ['webhooks'];

  app.post('/v1/webhooks', {
    schema: { tags, summary: 'Register an endpoint: signed (Standard Webhooks) POSTs of the chosen events; the answer holds its secret', body: CreateWebhook, response: { 201: WebhookCreated, ...errors } },
  }, async (request, reply) => {
    reply.status(201);
    return webhooks.createWebhook(svc, tenantOf(request), request.body as CreateWebhook);
  });

  app.get('/v1/webhooks', { schema: { tags, querystring: WebhookListQuery, response: { 200: WebhookList, ...errors } } }, async (request) =>
    webhooks.listWebhooks(deps.db, tenantOf(request), request.query as { cursor?: string; limit?: number }));

  app.get('/v1/webhooks/:id', { schema: { tags, params: IdParams, response: { 200: Webhook, ...errors } } }, async (request) =>
    webhooks.getWebhook(deps.db, tenantOf(request), idOf(request.params)));

  app.patch('/v1/webhooks/:id', { schema: { tags, params: IdParams, body: UpdateWebhook, response: { 200: Webhook, ...errors } } }, async (request) =>
    webhooks.updateWebhook(svc, tenantOf(request), idOf(request.params), request.body as UpdateWebhook));

  app.delete('/v1/webhooks/:id', { schema: { tags, params: IdParams, response: { ...errors } } }, async (request, reply) => {
    await webhooks.deleteWebhook(deps.db, tenantOf(request), idOf(request.params));
    return reply.status(204).send();
  });

  app.get('/v1/webhooks/:id/deliveries', {
    schema: { tags, summary: 'Deliveries to this endpoint, newest first', params: IdParams, querystring: WebhookDeliveryListQuery, response: { 200: WebhookDeliveryList, ...errors } },
  }, async (request) => webhooks.listDeliveries(deps.db, tenantOf(request), idOf(request.params), request.query as { cursor?: string; limit?: number; status?: string }));

  app.get('/v1/webhooks/:id/deliveries/:delivery', {
    schema: { tags, summary: 'One delivery and its attempt log', params: WebhookDeliveryParams, response: { 200: WebhookDeliveryDetail, ...errors } },
  }, async (request) => {
    const { id, delivery } = request.params as { id: string; delivery: string };
    return webhooks.getDelivery(deps.db, tenantOf(request), id, delivery);
  });
}
