import { Type, type Static } from 'typebox';
import { PageQuery, Page, Timestamp, NullableTimestamp } from './common.ts';
import { ResourceId, INT32_MAX } from './text.ts';
import { METADATA_LIMITS } from '../metadata.ts';

export const JobMethod = Type.Union([Type.Literal('npo'), Type.Literal('dpo')]);
export type JobMethod = Static<typeof JobMethod>;

export const JOB_STATES = ['queued', 'preparing', 'compiling', 'training', 'cancelling', 'succeeded', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const TERMINAL_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];
export const RUNNING_STATES: readonly JobState[] = ['preparing', 'compiling', 'training'];
export const JobStateSchema = Type.Union([
  Type.Literal('queued'), Type.Literal('preparing'), Type.Literal('compiling'), Type.Literal('training'),
  Type.Literal('cancelling'), Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('cancelled'),
]);

// JSON Schema numbers already exclude NaN/Infinity (JSON cannot carry them); the ranges below keep values sane.
// Defaults are documented in ../hyperparameters.ts and filled by the service (beta and resolution depend on
// the method and the model).
export const HyperparametersInput = Type.Object(
  {
    steps: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, description: 'optimizer steps (default 400)' })),
    batch_pairs: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024, description: 'preference pairs per micro-batch (default 16)' })),
    gradient_accumulation_steps: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024, description: 'micro-batches per optimizer step: each step uses the mean gradient of batch_pairs × gradient_accumulation_steps pairs (default 1)' })),
    learning_rate: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'AdamW learning rate (default 1e-5)' })),
    beta: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1e6, description: 'DPO β in the β/2 form (default 1000 for npo, 5000 for dpo)' })),
    lora_rank: Type.Optional(Type.Integer({ minimum: 1, maximum: 256, description: 'LoRA rank (default 8)' })),
    lora_alpha: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 4096, description: 'LoRA alpha (default = rank)' })),
    warmup_steps: Type.Optional(Type.Integer({ minimum: 0, maximum: 100000, description: 'linear warm-up steps (default 10)' })),
    lr_schedule: Type.Optional(Type.Union([Type.Literal('constant'), Type.Literal('cosine')], { description: 'default constant' })),
    max_grad_norm: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1e6, description: 'gradient-norm clip (default 1.0)' })),
    resolution: Type.Optional(Type.Integer({ minimum: 8, maximum: 4096, multipleOf: 8, description: 'training resolution in pixels (default: model sample_size × 8, or sample_size for pixel-space models, which accept no other)' })),
    checkpoint_every: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, description: 'steps between checkpoints (default 50)' })),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: INT32_MAX, description: 'RNG seed (default 0)' })),
  },
  { additionalProperties: false },
);
export type HyperparametersInput = Static<typeof HyperparametersInput>;

export const CreateJob = Type.Object(
  {
    model: ResourceId('model id, or a built-in model name'),
    dataset: ResourceId('dataset id'),
    method: JobMethod,
    hyperparameters: Type.Optional(HyperparametersInput),
    metadata: Type.Optional(Type.Record(Type.String({ maxLength: 100 }), Type.Unknown(), {
      maxProperties: 50,
      description: `free-form JSON kept with the job: at most ${METADATA_LIMITS.maxBytes} bytes, ${METADATA_LIMITS.maxDepth} levels deep, no NUL or lone surrogates`,
    })),
  },
  { additionalProperties: false },
);
export type CreateJob = Static<typeof CreateJob>;

/** The preparing phase (images → latents, prompts → embeddings): null until it starts. */
export const Preparation = Type.Union([
  Type.Object({
    pairs_done: Type.Integer(),
    pairs_total: Type.Union([Type.Integer(), Type.Null()]),
    percent: Type.Union([Type.Number(), Type.Null()]),
    eta_seconds: Type.Union([Type.Number(), Type.Null()]),
    source: Type.Union([Type.Literal('encoding'), Type.Literal('encoded'), Type.Literal('local'), Type.Literal('s3')], {
      description: 'encoding (in progress) or encoded here; local or s3: reused shards prepared earlier',
    }),
  }),
  Type.Null(),
]);
export type Preparation = Static<typeof Preparation>;

export const Progress = Type.Object({
  step: Type.Integer(),
  total_steps: Type.Integer(),
  percent: Type.Number(),
  eta_seconds: Type.Union([Type.Number(), Type.Null()]),
  preparation: Preparation,
});

export const LatestMetrics = Type.Union([
  Type.Object({ step: Type.Integer(), loss: Type.Number(), implicit_acc: Type.Number(), lr: Type.Number(), grad_norm: Type.Number(), step_ms: Type.Number() }),
  Type.Null(),
]);

export const Job = Type.Object({
  id: Type.String(),
  model: Type.String(),
  dataset: Type.String(),
  method: JobMethod,
  state: JobStateSchema,
  hyperparameters: Type.Record(Type.String(), Type.Unknown()),
  metadata: Type.Record(Type.String(), Type.Unknown()),
  progress: Progress,
  metrics: LatestMetrics,
  error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
  final_adapter: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
  started_at: NullableTimestamp,
  finished_at: NullableTimestamp,
  updated_at: Timestamp,
});
export type Job = Static<typeof Job>;

export const JobList = Page(Job);
export const JobListQuery = Type.Object({
  ...PageQuery,
  state: Type.Optional(JobStateSchema),
  model: Type.Optional(ResourceId()),
  dataset: Type.Optional(ResourceId()),
});

export const JobEvent = Type.Object({
  id: Type.String(),
  type: Type.String(),
  data: Type.Record(Type.String(), Type.Unknown()),
  created_at: Timestamp,
});
export type JobEvent = Static<typeof JobEvent>;
export const JobEventList = Page(JobEvent);

export const MetricPoint = Type.Object({
  step: Type.Integer(), loss: Type.Number(), implicit_acc: Type.Number(), grad_norm: Type.Number(), lr: Type.Number(), step_ms: Type.Number(),
});
export const MetricSeries = Type.Object({ data: Type.Array(MetricPoint) });

export const Checkpoint = Type.Object({
  step: Type.Integer(),
  final: Type.Boolean(),
  files: Type.Array(Type.String()),
  created_at: Timestamp,
});
export type Checkpoint = Static<typeof Checkpoint>;
/** A checkpoint's step in a URL: bounded like the int4 column it is looked up in. */
export const CheckpointParams = Type.Object({ id: ResourceId(), step: Type.Integer({ minimum: 0, maximum: INT32_MAX }) });
export const CheckpointList = Type.Object({ data: Type.Array(Checkpoint) });

export const Sample = Type.Object({ id: Type.String(), kind: Type.String(), url: Type.String(), created_at: Timestamp });
export const SampleList = Type.Object({ data: Type.Array(Sample) });
