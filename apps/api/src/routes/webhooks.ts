import {
  CreateWebhook, UpdateWebhook, Webhook, WebhookCreated, WebhookList, WebhookListQuery, WebhookDeliveryDetail, WebhookDeliveryList,
  WebhookDeliveryListQuery, WebhookDeliveryParams, IdParams, ErrorResponse,
} from '@npo/contracts';
import { untypedReply, type TypedApp } from '../plugins/type-provider.ts';
import { tenantOf } from '../plugins/auth.ts';
import type { WebhookService } from '../services/webhooks.ts';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse, 415: ErrorResponse, 429: ErrorResponse };

export function webhookRoutes(app: TypedApp, webhooks: WebhookService): void {
  const tags = ['webhooks'];

  app.post('/webhooks', {
    schema: { tags, summary: 'Register an endpoint: signed (Standard Webhooks) POSTs of the chosen events; the answer holds its secret', body: CreateWebhook, response: { 201: WebhookCreated, ...errors } },
  }, async (request, reply) => {
    reply.status(201);
    return webhooks.create(tenantOf(request), request.body);
  });

  app.get('/webhooks', { schema: { tags, querystring: WebhookListQuery, response: { 200: WebhookList, ...errors } } }, async (request) =>
    webhooks.list(tenantOf(request), request.query));

  app.get('/webhooks/:id', { schema: { tags, params: IdParams, response: { 200: Webhook, ...errors } } }, async (request) =>
    webhooks.get(tenantOf(request), request.params.id));

  app.patch('/webhooks/:id', { schema: { tags, params: IdParams, body: UpdateWebhook, response: { 200: Webhook, ...errors } } }, async (request) =>
    webhooks.update(tenantOf(request), request.params.id, request.body));

  app.delete('/webhooks/:id', { schema: { tags, params: IdParams, response: { ...errors } } }, async (request, reply) => {
    await webhooks.remove(tenantOf(request), request.params.id);
    return untypedReply(reply).status(204).send();
  });

  app.get('/webhooks/:id/deliveries', {
    schema: { tags, summary: 'Deliveries to this endpoint, newest first', params: IdParams, querystring: WebhookDeliveryListQuery, response: { 200: WebhookDeliveryList, ...errors } },
  }, async (request) => webhooks.listDeliveries(tenantOf(request), request.params.id, request.query));

  app.get('/webhooks/:id/deliveries/:delivery', {
    schema: { tags, summary: 'One delivery and its attempt log', params: WebhookDeliveryParams, response: { 200: WebhookDeliveryDetail, ...errors } },
  }, async (request) => webhooks.getDelivery(tenantOf(request), request.params.id, request.params.delivery));
}
