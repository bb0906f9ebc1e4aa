import { Type, type Static } from 'typebox';
import { Timestamp, NullableTimestamp } from './common.ts';
import { SafeText, ResourceId, INT32_MAX } from './text.ts';

// Sampling requests and the sample sets they make. The bounds keep one request to minutes of a worker's time:
// at most SAMPLE_LIMITS.images images (prompts × seeds × guidance scales × arms) per request.
export const SAMPLE_LIMITS = {
  prompts: 16,
  promptLength: 500,
  seeds: 8,
  guidanceScales: 4,
  maxGuidance: 30,
  steps: 100,
  images: 128,
} as const;

export const SAMPLE_DEFAULTS = { seeds: [0, 1, 2, 3], guidance: [7.5], steps: 20, sampler: 'ddim' } as const;

export const SamplerName = Type.Union([Type.Literal('ddim'), Type.Literal('euler')]);
/**
 * Where an adapter goes in classifier-free guidance: a positive adapter (DPO, or any fine-tune) changes the model,
 * so it runs in BOTH branches; a negative adapter (NPO) runs in the negative branch only.
 */
export type AdapterRole = 'positive' | 'negative';
export const ADAPTER_ROLES: readonly AdapterRole[] = ['positive', 'negative'];
/** The role a job's adapter plays unless asked otherwise: NPO's negative, DPO's positive. */
export const roleOfMethod = (method: 'npo' | 'dpo'): AdapterRole => (method === 'dpo' ? 'positive' : 'negative');
export const otherRole = (role: AdapterRole): AdapterRole => (role === 'positive' ? 'negative' : 'positive');

export const AdapterRoleSchema = Type.Union([Type.Literal('positive'), Type.Literal('negative')], {
  description: 'positive: in both guidance branches (a DPO adapter); negative: in the negative branch only (an NPO adapter)',
});

const Prompt = SafeText({ minLength: 1, maxLength: SAMPLE_LIMITS.promptLength });
const Seed = Type.Integer({ minimum: 0, maximum: INT32_MAX });
const Guidance = Type.Number({ minimum: 0, maximum: SAMPLE_LIMITS.maxGuidance });

const BaseSampleFields = {
  prompts: Type.Array(Prompt, { minItems: 1, maxItems: SAMPLE_LIMITS.prompts, description: 'one grid row per prompt (and guidance scale)' }),
  negative_prompt: Type.Optional(SafeText({ maxLength: SAMPLE_LIMITS.promptLength, description: 'text of the negative branch (default: empty, the unconditional embedding)' })),
  seeds: Type.Optional(Type.Array(Seed, { minItems: 1, maxItems: SAMPLE_LIMITS.seeds, uniqueItems: true, description: 'one grid column per seed; a seed fixes the initial noise (default [0, 1, 2, 3])' })),
  guidance: Type.Optional(Type.Array(Guidance, { minItems: 1, maxItems: SAMPLE_LIMITS.guidanceScales, uniqueItems: true, description: 'classifier-free guidance scales (default [7.5])' })),
  steps: Type.Optional(Type.Integer({ minimum: 1, maximum: SAMPLE_LIMITS.steps, description: 'denoising steps (default 20)' })),
  sampler: Type.Optional(SamplerName),
};

/** POST /v1/models/{id}/samples: the base model alone. */
export const CreateModelSamples = Type.Object(BaseSampleFields, { additionalProperties: false });
export type CreateModelSamples = Static<typeof CreateModelSamples>;

/** POST /v1/jobs/{id}/samples: base vs the job's adapter (optionally with another job's adapter in the other role). */
export const CreateJobSamples = Type.Object(
  {
    ...BaseSampleFields,
    checkpoint: Type.Optional(Type.Integer({ minimum: 0, maximum: INT32_MAX, description: "the checkpoint's step (default: the job's latest)" })),
    role: Type.Optional(AdapterRoleSchema),
    other_adapter: Type.Optional(Type.Object(
      {
        job: ResourceId('another job of this tenant on the same model'),
        checkpoint: Type.Optional(Type.Integer({ minimum: 0, maximum: INT32_MAX })),
      },
      { additionalProperties: false, description: "plays the role the job's adapter does not: DPO + NPO" },
    )),
  },
  { additionalProperties: false },
);
export type CreateJobSamples = Static<typeof CreateJobSamples>;

export const SAMPLE_STATUSES = ['queued', 'running', 'cancelling', 'succeeded', 'failed', 'cancelled'] as const;
export type SampleStatus = (typeof SAMPLE_STATUSES)[number];
export const SAMPLE_TERMINAL: readonly SampleStatus[] = ['succeeded', 'failed', 'cancelled'];
export const SampleStatusSchema = Type.Union([
  Type.Literal('queued'), Type.Literal('running'), Type.Literal('cancelling'), Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('cancelled'),
]);
export const SampleKind = Type.Union([Type.Literal('request'), Type.Literal('preview'), Type.Literal('validation')]);

export const SampleAdapter = Type.Object({ job: Type.String(), checkpoint: Type.Integer(), role: AdapterRoleSchema });
export const SampleImage = Type.Object({
  name: Type.String(),
  prompt: Type.Integer({ description: 'index into request.prompts' }),
  seed: Type.Integer(),
  guidance: Type.Number(),
  arm: Type.Union([Type.Literal('base'), Type.Literal('adapted')]),
  url: Type.String({ description: 'presigned, valid for 5 minutes' }),
  reward: Type.Optional(Type.Number()),
});

export const SampleSet = Type.Object({
  id: Type.String(),
  kind: SampleKind,
  status: SampleStatusSchema,
  model: Type.String(),
  job: Type.Union([Type.String(), Type.Null()]),
  checkpoint: Type.Union([Type.Integer(), Type.Null()]),
  request: Type.Record(Type.String(), Type.Unknown()),
  adapters: Type.Array(SampleAdapter),
  grid_url: Type.Union([Type.String(), Type.Null()], { description: 'the labelled grid, presigned (5 minutes)' }),
  images: Type.Array(SampleImage),
  rewards: Type.Union([Type.Object({ base: Type.Number(), adapted: Type.Union([Type.Number(), Type.Null()]), difference: Type.Union([Type.Number(), Type.Null()]), n: Type.Integer() }), Type.Null()]),
  error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
  created_at: Timestamp,
  started_at: NullableTimestamp,
  finished_at: NullableTimestamp,
});
export type SampleSet = Static<typeof SampleSet>;
export const SampleSetList = Type.Object({ data: Type.Array(SampleSet) });

/** A job's validation prompts: sampled base vs adapted at every `every`-th step's checkpoint and the final one. */
export const ValidationSpec = Type.Object(
  {
    prompts: Type.Array(Prompt, { minItems: 1, maxItems: 8 }),
    seeds: Type.Optional(Type.Array(Seed, { minItems: 1, maxItems: SAMPLE_LIMITS.seeds, uniqueItems: true })),
    guidance: Type.Optional(Guidance),
    every: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, description: 'steps between validations, a multiple of checkpoint_every (default checkpoint_every)' })),
    steps: Type.Optional(Type.Integer({ minimum: 1, maximum: 50 })),
  },
  { additionalProperties: false },
);
export type ValidationSpec = Static<typeof ValidationSpec>;
export const ResolvedValidationSchema = Type.Object({
  prompts: Type.Array(Type.String()), seeds: Type.Array(Type.Integer()), guidance: Type.Number(), every: Type.Integer(), steps: Type.Integer(),
});
export type ResolvedValidation = Static<typeof ResolvedValidationSchema>;
export const VALIDATION_DEFAULTS = { seeds: [0, 1, 2, 3], guidance: 7.5, steps: 20 } as const;

/** Defaults filled in; `every` must land on checkpoints, so it is a multiple of checkpoint_every (null: it is not). */
export function resolveValidation(v: ValidationSpec, checkpointEvery: number): ResolvedValidation | null {
  const every = v.every ?? checkpointEvery;
  if (every % checkpointEvery !== 0) return null;
  return { prompts: v.prompts, seeds: v.seeds ?? [...VALIDATION_DEFAULTS.seeds], guidance: v.guidance ?? VALIDATION_DEFAULTS.guidance, every, steps: v.steps ?? VALIDATION_DEFAULTS.steps };
}

// The columns the API and the worker share (the worker reads `request`, writes `result`).
/** What a sample set's `request` column holds: the resolved request and its adapters (with their S3 keys). */
export interface SampleRequestRecord {
  prompts: string[];
  negative_prompt: string;
  seeds: number[];
  guidance: number[];
  steps: number;
  sampler: string;
  adapters: { job: string; checkpoint: number; role: AdapterRole; key: string }[];
}

/** What the worker writes to `result` when a sample set succeeds. */
export interface SampleResultRecord {
  grid: string;
  images: { name: string; prompt: number; seed: number; guidance: number; arm: 'base' | 'adapted'; reward?: number }[];
  rewards?: { base: number; adapted: number | null; difference: number | null; n: number } | null;
}

/** The payload of the samples queue: the sample set's id. */
export interface SamplePayload { sampleId: string }
