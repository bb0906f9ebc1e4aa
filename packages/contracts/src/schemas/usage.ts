import { Type, type Static } from 'typebox';
import { Timestamp } from './common.ts';

// Device time and cost (cost accounting): a job's, in the job resource, and a tenant's over a period (GET /v1/usage).
const Seconds = (description: string) => Type.Number({ minimum: 0, description });

export const UsageSummary = Type.Object({
  device_seconds: Type.Object({
    preparing: Seconds('encoding the preference set (VAE, text encoders)'),
    compiling: Seconds('building the training graph'),
    training: Seconds('training steps and checkpoints'),
    sampling: Seconds('preview grids, validation prompts, sample sets'),
    total: Seconds('all phases'),
  }, { description: 'device-seconds (seconds × devices) per phase' }),
  devices: Type.Array(Type.Object({
    kind: Type.String({ description: "the worker's execution provider: cpu or cuda" }),
    count: Type.Integer(),
    seconds: Type.Number(),
  })),
  peak_rss_mb: Type.Union([Type.Number(), Type.Null()], { description: "the worker process's peak resident memory while it ran this work, MiB" }),
  cost: Type.Array(Type.Object({ amount: Type.Number(), currency: Type.String() }), {
    description: 'priced by the operator\'s PRICE_TABLE when the time was spent; one entry per currency (one unless the table changed currency)',
  }),
});
export type UsageSummary = Static<typeof UsageSummary>;

export const UsageQuery = Type.Object({
  from: Type.Optional(Type.String({ maxLength: 64, description: 'ISO 8601 date-time: start of the period (inclusive); default 30 days before `to`' })),
  to: Type.Optional(Type.String({ maxLength: 64, description: 'ISO 8601 date-time: end of the period (exclusive); default now' })),
}, { additionalProperties: false });

export const TenantUsage = Type.Object({
  from: Timestamp,
  to: Timestamp,
  jobs: Type.Integer({ description: 'jobs that spent device time in the period' }),
  sample_sets: Type.Integer({ description: 'sample sets that spent device time in the period' }),
  ...UsageSummary.properties,
});
export type TenantUsage = Static<typeof TenantUsage>;

/** Longest period one GET /v1/usage may cover. */
export const USAGE_PERIOD_MAX_DAYS = 366;
