import { Type, type Static } from 'typebox';
import { Page, PageQuery, Timestamp, NullableTimestamp } from './common.ts';

/** The events a webhook endpoint can subscribe to. */
export const WEBHOOK_EVENT_TYPES = ['job.succeeded', 'job.failed', 'job.cancelled', 'checkpoint.created', 'dataset.ready', 'dataset.invalid'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];
export const WebhookEventTypeSchema = Type.Union(WEBHOOK_EVENT_TYPES.map((t) => Type.Literal(t)));

const Url = Type.String({ minLength: 1, maxLength: 2000, description: 'http(s) URL that receives POSTed events (no credentials in it)' });
const Events = Type.Array(WebhookEventTypeSchema, { minItems: 1, maxItems: WEBHOOK_EVENT_TYPES.length, uniqueItems: true, description: 'event types delivered to this endpoint' });
const Description = Type.String({ maxLength: 500 });

export const CreateWebhook = Type.Object({ url: Url, events: Events, description: Type.Optional(Description) }, { additionalProperties: false });
export type CreateWebhook = Static<typeof CreateWebhook>;

export const UpdateWebhook = Type.Object(
  { url: Type.Optional(Url), events: Type.Optional(Events), description: Type.Optional(Description), enabled: Type.Optional(Type.Boolean()) },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateWebhook = Static<typeof UpdateWebhook>;

export const Webhook = Type.Object({
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  description: Type.String(),
  enabled: Type.Boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type Webhook = Static<typeof Webhook>;

/** Creation is the one answer that carries the signing secret (Standard Webhooks `whsec_<base64>`). */
export const WebhookCreated = Type.Object({ ...Webhook.properties, secret: Type.String({ description: 'whsec_<base64 key>: verify webhook-signature with it' }) });
export const WebhookList = Page(Webhook);
export const WebhookListQuery = Type.Object({ ...PageQuery });

export const WEBHOOK_DELIVERY_STATUSES = ['pending', 'succeeded', 'failed'] as const;
const WebhookDeliveryStatusSchema = () => Type.Unsafe<(typeof WEBHOOK_DELIVERY_STATUSES)[number]>(Type.Union(WEBHOOK_DELIVERY_STATUSES.map((s) => Type.Literal(s))));
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number];

export const WebhookAttempt = Type.Object({
  attempt: Type.Integer(),
  status_code: Type.Union([Type.Integer(), Type.Null()], { description: 'HTTP status of the response, null when none came' }),
  error: Type.Union([Type.String(), Type.Null()]),
  duration_ms: Type.Number(),
  response_excerpt: Type.String({ description: 'first bytes of the response body' }),
  created_at: Timestamp,
});

export const WebhookDelivery = Type.Object({
  id: Type.String({ description: 'the webhook-id header: the same on every attempt' }),
  endpoint: Type.String(),
  event_type: Type.String(),
  payload: Type.Record(Type.String(), Type.Unknown()),
  status: WebhookDeliveryStatusSchema(),
  attempts: Type.Integer(),
  next_attempt_at: NullableTimestamp,
  created_at: Timestamp,
  updated_at: Timestamp,
});
export const WebhookDeliveryDetail = Type.Object({ ...WebhookDelivery.properties, attempt_log: Type.Array(WebhookAttempt) });
export const WebhookDeliveryList = Page(WebhookDelivery);
export const WebhookDeliveryListQuery = Type.Object({
  ...PageQuery,
  status: Type.Optional(WebhookDeliveryStatusSchema()),
});
export const WebhookDeliveryParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }), delivery: Type.String({ minLength: 1, maxLength: 100 }) });
