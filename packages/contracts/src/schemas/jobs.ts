import { UsageSummary } from './usage.ts';
import { Type, type Static } from 'typebox';
import { PageQuery, Page, Timestamp, NullableTimestamp } from './common.ts';
import { ResourceId, INT32_MAX } from './text.ts';
import { METADATA_LIMITS } from '../metadata.ts';
import { jobStatusSchema, DEPRECATED_STATE_ALIAS } from '../job-states.ts';
import { HyperparametersInput } from '../hyperparameters.ts';
import { ValidationSpec, ResolvedValidationSchema } from './samples.ts';

export const JobMethod = Type.Union([Type.Literal('npo'), Type.Literal('dpo')]);
export type JobMethod = Static<typeof JobMethod>;

export { JOB_STATES, RUNNING_STATES, TERMINAL_STATES, ACTIVE_STATES, isTerminal, jobStatusSchema, withStatusAlias, DEPRECATED_STATE_ALIAS, type JobState } from '../job-states.ts';

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
    validation: Type.Optional(ValidationSpec),
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

/** A step's peak resident set of the training process, as both the latest metrics and the series report it. */
const PeakRssMb = () => Type.Union([Type.Number(), Type.Null()], {
  description: "peak resident set of the worker's training process so far in this run (compiling, sessions, steps), MiB; null for steps stored before it was measured",
});

export const LatestMetrics = Type.Union([
  Type.Object({ step: Type.Integer(), loss: Type.Number(), implicit_acc: Type.Number(), lr: Type.Number(), grad_norm: Type.Number(), step_ms: Type.Number(), peak_rss_mb: PeakRssMb() }),
  Type.Null(),
]);

export const Job = Type.Object({
  id: Type.String(),
  model: Type.String(),
  dataset: Type.String(),
  method: JobMethod,
  status: jobStatusSchema({ description: 'queued → preparing → compiling → training → succeeded | failed | cancelled (cancelling while a cancel is under way)' }),
  state: jobStatusSchema({ description: DEPRECATED_STATE_ALIAS, deprecated: true }),
  hyperparameters: Type.Record(Type.String(), Type.Unknown()),
  metadata: Type.Record(Type.String(), Type.Unknown()),
  progress: Progress,
  metrics: LatestMetrics,
  error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
  final_adapter: Type.Union([Type.String(), Type.Null()]),
  validation: Type.Union([ResolvedValidationSchema, Type.Null()]),
  usage: UsageSummary,
  created_at: Timestamp,
  started_at: NullableTimestamp,
  finished_at: NullableTimestamp,
  updated_at: Timestamp,
});
export type Job = Static<typeof Job>;

export const JobList = Page(Job);
export const JobListQuery = Type.Object({
  ...PageQuery,
  status: Type.Optional(jobStatusSchema({ description: 'only jobs with this status' })),
  state: Type.Optional(jobStatusSchema({ description: 'Deprecated alias of status; give one of the two', deprecated: true })),
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
  step: Type.Integer(), loss: Type.Number(), implicit_acc: Type.Number(), grad_norm: Type.Number(), lr: Type.Number(), step_ms: Type.Number(), peak_rss_mb: PeakRssMb(),
});
export const ValidationPoint = Type.Object({
  step: Type.Integer(),
  reward_base: Type.Number({ description: 'mean reward of plain CFG (arm A) on the validation prompts and seeds' }),
  reward_adapted: Type.Union([Type.Number(), Type.Null()], { description: "mean reward with the job's adapter (arm B), same noise" }),
  reward_difference: Type.Union([Type.Number(), Type.Null()], { description: 'mean paired difference B − A' }),
  n: Type.Integer(),
});
export const MetricSeries = Type.Object({
  data: Type.Array(MetricPoint),
  validation: Type.Array(ValidationPoint, { description: 'per validated checkpoint, for models whose world has a reward (tiny-sd)' }),
});

export const Checkpoint = Type.Object({
  step: Type.Integer(),
  final: Type.Boolean(),
  files: Type.Array(Type.String()),
  validation_sample: Type.Union([Type.String(), Type.Null()], { description: "the sample set of this checkpoint's validation prompts (GET /v1/samples/{id})" }),
  created_at: Timestamp,
});
export type Checkpoint = Static<typeof Checkpoint>;
/** A checkpoint's step in a URL: bounded like the int4 column it is looked up in. */
export const CheckpointParams = Type.Object({ id: ResourceId(), step: Type.Integer({ minimum: 0, maximum: INT32_MAX }) });
export const CheckpointList = Type.Object({ data: Type.Array(Checkpoint) });

