import { Type, type TSchema } from 'typebox';
import { InputError } from './errors.ts';
import type { JobMethod } from './schemas/jobs.ts';
import { PRECISIONS } from './precision.ts';
import { DEFAULT_LORA_TARGETS, LORA_TARGET_PRESET_NAMES, isLoraTargetPreset, loraTargetsProblem, type LoraTargets } from './lora-targets.ts';

// Every training hyperparameter, once: type, range, default (fixed, per method, or derived from the model and the
// values resolved before it) and whether the API exposes it. The job body's schema (HyperparametersInput), the one
// resolver that the API and the trainer call, and the README's table are generated from this table. The defaults are
// the reference runs' settings for real SD-class models: LoRA rank 8 with alpha = rank, AdamW lr 1e-5 (weight decay
// 1e-2), β 1000 for NPO and the SD1.5 Diffusion-DPO default 5000 for DPO, grad-norm clip 1, a constant schedule after
// a short warm-up.

/** What the model contributes to the defaults (the model folder reader's answer, stored in the model's info). */
export interface ModelShapeInfo {
  /** No VAE: the UNet works on pixels (the built-in tiny-sd). */
  pixelSpace: boolean;
  /** The UNet's sample_size: its latent side, or its pixel side for a pixel-space model. */
  sampleSize: number;
  /** Pixels per latent (2^(VAE down blocks − 1)); 8, every SD-class VAE's, when not known; null without a VAE. */
  vaeScaleFactor?: number | null;
}

/** What a default may depend on besides the values resolved before it. */
export interface DefaultContext {
  method: JobMethod;
  model: ModelShapeInfo;
}

type Value = number | string | readonly string[];
const TARGETS_MAX = 256;
const TARGET_NAME_MAX = 300;
type Resolved = Record<string, Value>;

/** A refusal of a given value: a message, or a message with its own stable code and details. */
type Problem = string | { message: string; code: string; details: Record<string, unknown> };

interface Spec {
  /** `targets`: a preset name from `values` or a list of module names (lora-targets.ts). */
  readonly kind: 'integer' | 'number' | 'enum' | 'targets';
  readonly values?: readonly string[];
  readonly minimum?: number;
  readonly exclusiveMinimum?: number;
  readonly maximum?: number;
  readonly multipleOf?: number;
  /** A value, one per method, or derived from the context and the values before it in the table (then `doc` says how). */
  readonly default: number | string | Readonly<Record<JobMethod, number>> | { readonly derive: (ctx: DefaultContext, hp: Resolved) => number; readonly doc: string };
  /** In the job body; false: a trainer knob that library callers may set and jobs take the default of. */
  readonly api: boolean;
  readonly description: string;
  /** A constraint involving other values or the model. Only values the caller gave are checked: a default is never refused. */
  readonly check?: (value: Value, hp: Resolved, ctx: DefaultContext) => Problem | null;
}

export const HYPERPARAMETER_TABLE = {
  steps: { kind: 'integer', minimum: 1, maximum: 100000, default: 400, api: true, description: 'optimizer steps' },
  batch_pairs: {
    kind: 'integer', minimum: 1, maximum: 1024, api: true, description: 'preference pairs per micro-batch',
    // one full-size SD1.5 pair at 512 px already needs ~16 GB (README "Memory budget"): latent models accumulate instead
    default: { derive: (ctx) => (ctx.model.pixelSpace ? 16 : 1), doc: 'default 16 for pixel-space models, 1 for latent models (memory: see "Memory budget")' },
  },
  gradient_accumulation_steps: {
    kind: 'integer', minimum: 1, maximum: 1024, api: true,
    // with the latent default of one pair, 16 micro-batches keep the reference runs' 16 pairs per optimizer step
    default: { derive: (ctx, hp) => (!ctx.model.pixelSpace && hp.batch_pairs === 1 ? 16 : 1), doc: 'default 16 for a latent model at batch_pairs 1 (its default: 16 pairs per optimizer step), else 1' },
    description: 'micro-batches per optimizer step: each step uses the mean gradient of batch_pairs × gradient_accumulation_steps pairs',
  },
  learning_rate: { kind: 'number', exclusiveMinimum: 0, maximum: 1, default: 1e-5, api: true, description: 'AdamW learning rate' },
  beta: { kind: 'number', exclusiveMinimum: 0, maximum: 1e6, default: { npo: 1000, dpo: 5000 }, api: true, description: 'DPO β in the β/2 form' },
  lora_rank: { kind: 'integer', minimum: 1, maximum: 256, default: 8, api: true, description: 'LoRA rank' },
  lora_alpha: {
    kind: 'number', exclusiveMinimum: 0, maximum: 4096, api: true, description: 'LoRA alpha',
    default: { derive: (_ctx, hp) => hp.lora_rank as number, doc: 'default = rank' }, // scale 1, as in the reference runs
  },
  lora_targets: {
    kind: 'targets', values: LORA_TARGET_PRESET_NAMES, default: DEFAULT_LORA_TARGETS, api: true,
    description: "UNet Linear layers the LoRA adapts: 'attn' (to_q, to_k, to_v, to_out.0), 'attn+ff' (also ff.net.0.proj, ff.net.2), 'all-linear', or module names matched as PEFT target_modules (a path or its last part, e.g. ['to_k', 'attn2.to_v', 'proj_in'])",
    check: (v) => {
      const problem = loraTargetsProblem(v as LoraTargets);
      return problem && { message: `lora_targets: ${problem.message}`, code: 'unknown_target_modules', details: { unknown: problem.unknown } };
    },
  },
  warmup_steps: {
    kind: 'integer', minimum: 0, maximum: 100000, api: true, description: 'linear warm-up steps',
    // never more than the run: `{"steps": 6}` alone is a valid request
    default: { derive: (_ctx, hp) => Math.min(10, hp.steps as number), doc: 'default 10, or steps if fewer' },
    check: (v, hp) => ((v as number) > (hp.steps as number) ? `warmup_steps (${v}) must not exceed steps (${hp.steps})` : null),
  },
  lr_schedule: { kind: 'enum', values: ['constant', 'cosine'], default: 'constant', api: true, description: '' },
  max_grad_norm: { kind: 'number', exclusiveMinimum: 0, maximum: 1e6, default: 1, api: true, description: 'gradient-norm clip' },
  resolution: {
    kind: 'integer', minimum: 8, maximum: 4096, multipleOf: 8, api: true, description: 'training resolution in pixels',
    default: { derive: (ctx) => defaultResolution(ctx.model), doc: 'default: model sample_size × its VAE\'s scale factor (8 for SD and SDXL), or sample_size for pixel-space models, which accept no other' },
    check: (v, _hp, ctx) => resolutionProblem(v as number, ctx.model),
  },
  checkpoint_every: { kind: 'integer', minimum: 1, maximum: 100000, default: 50, api: true, description: 'steps between checkpoints' },
  seed: { kind: 'integer', minimum: 0, maximum: 2147483647, default: 0, api: true, description: 'RNG seed' },
  precision: {
    kind: 'enum', values: PRECISIONS, default: 'fp32', api: true,
    description: "compute precision of the frozen base model: 'fp32', or mixed 'fp16' / 'bf16' for GPU workers (base weights and the UNet's Conv/Linear/attention matmuls in 16 bits; LoRA weights, AdamW state, norms, softmax and the loss in float32). A CPU worker runs fp16 too (onnxruntime casts where it lacks kernels, slower than fp32) and refuses bf16 (no CPU kernels)",
  },
  weight_decay: { kind: 'number', minimum: 0, maximum: 10, default: 1e-2, api: false, description: 'AdamW weight decay' },
  prompt_dropout: { kind: 'number', minimum: 0, maximum: 1, default: 0, api: false, description: 'probability of training a pair on the unconditional embedding instead of its prompt' },
} as const satisfies Record<string, Spec>;

type Table = typeof HYPERPARAMETER_TABLE;
type ValueOf<S> = S extends { readonly kind: 'targets' } ? LoraTargets : S extends { readonly values: readonly (infer E)[] } ? E : number;
export type HyperparameterName = keyof Table;
/** A complete, resolved set: what a job stores and the trainer takes. */
export type Hyperparameters = { -readonly [K in HyperparameterName]: ValueOf<Table[K]> };
export type ApiHyperparameterName = { [K in HyperparameterName]: Table[K]['api'] extends true ? K : never }[HyperparameterName];
/** The job body's `hyperparameters`: any of the exposed ones. */
export type HyperparametersInput = Partial<Pick<Hyperparameters, ApiHyperparameterName>>;

const SPECS = HYPERPARAMETER_TABLE as Record<HyperparameterName, Spec>;
export const HYPERPARAMETER_NAMES = Object.keys(HYPERPARAMETER_TABLE) as HyperparameterName[];
export const API_HYPERPARAMETER_NAMES = HYPERPARAMETER_NAMES.filter((n) => SPECS[n].api) as ApiHyperparameterName[];

/** The default as a phrase: "default 400", "default 1000 for npo, 5000 for dpo", or the derived default's doc. */
export function defaultText(name: HyperparameterName): string {
  const d = SPECS[name].default;
  if (typeof d === 'object' && 'derive' in d) return d.doc;
  if (typeof d === 'object') return `default ${Object.entries(d).map(([method, v]) => `${formatNumber(v)} for ${method}`).join(', ')}`;
  return `default ${typeof d === 'number' ? formatNumber(d) : d}`;
}

const formatNumber = (v: number) => (v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential() : String(v));

function schemaOf(name: HyperparameterName): TSchema {
  const s = SPECS[name];
  const description = s.description ? `${s.description} (${defaultText(name)})` : defaultText(name);
  if (s.kind === 'enum') return Type.Union(s.values!.map((v) => Type.Literal(v)), { description });
  if (s.kind === 'targets')
    return Type.Union([
      ...s.values!.map((v) => Type.Literal(v)),
      Type.Array(Type.String({ minLength: 1, maxLength: TARGET_NAME_MAX }), { minItems: 1, maxItems: TARGETS_MAX, uniqueItems: true }),
    ], { description });
  // key order as the schemas were written by hand before, so the OpenAPI document does not move
  const bounds = Object.fromEntries(
    (['minimum', 'exclusiveMinimum', 'maximum', 'multipleOf'] as const).filter((k) => s[k] !== undefined).map((k) => [k, s[k]]),
  );
  return s.kind === 'integer' ? Type.Integer({ ...bounds, description }) : Type.Number({ ...bounds, description });
}

// JSON Schema numbers already exclude NaN/Infinity (JSON cannot carry them).
export const HyperparametersInput = Type.Unsafe<HyperparametersInput>(
  Type.Object(Object.fromEntries(API_HYPERPARAMETER_NAMES.map((n) => [n, Type.Optional(schemaOf(n))])), { additionalProperties: false }),
);

export function defaultResolution(model: ModelShapeInfo): number {
  return model.pixelSpace ? model.sampleSize : model.sampleSize * (model.vaeScaleFactor ?? 8);
}

/**
 * Why `resolution` does not fit this model, or null. A pixel-space UNet (no VAE) trains at exactly its
 * sample size: its images are its latents, so any other size would be resized to its grid anyway or fail to build.
 */
export function resolutionProblem(resolution: number, model: ModelShapeInfo): string | null {
  if (model.pixelSpace && resolution !== model.sampleSize)
    return `resolution must be ${model.sampleSize} for this pixel-space model (its UNet sample_size), got ${resolution}; leave it out to use the default`;
  return null;
}

/** A hyperparameter the caller gave that cannot be used; `details.field` names it as the job body does. */
export class HyperparameterError extends InputError {
  constructor(readonly hyperparameter: string, problem: Problem) {
    const p = typeof problem === 'string' ? { message: problem, code: 'validation_error', details: {} } : problem;
    super(`hyperparameters.${p.message}`, { field: `body.hyperparameters.${hyperparameter}`, ...p.details }, p.code);
  }
}

function targetsProblem(name: string, v: unknown): string | null {
  if (isLoraTargetPreset(v)) return null;
  const list = Array.isArray(v) && v.length >= 1 && v.length <= TARGETS_MAX && v.every((n) => typeof n === 'string' && n.length >= 1 && n.length <= TARGET_NAME_MAX);
  if (list && new Set(v).size === v.length) return null;
  return `${name} must be one of ${LORA_TARGET_PRESET_NAMES.join(', ')} or a list of 1 to ${TARGETS_MAX} distinct module names, got ${JSON.stringify(v)?.slice(0, 200)}`;
}

function valueProblem(name: HyperparameterName, v: unknown): string | null {
  const s = SPECS[name];
  if (s.kind === 'targets') return targetsProblem(name, v);
  if (s.kind === 'enum') return s.values!.includes(v as string) ? null : `${name} must be one of ${s.values!.map((x) => JSON.stringify(x)).join(', ')}, got ${JSON.stringify(v)}`;
  if (typeof v !== 'number' || !Number.isFinite(v)) return `${name} must be a finite number, got ${JSON.stringify(v)}`;
  if (s.kind === 'integer' && !Number.isInteger(v)) return `${name} must be an integer, got ${v}`;
  if (s.minimum !== undefined && v < s.minimum) return `${name} must be >= ${s.minimum}, got ${v}`;
  if (s.exclusiveMinimum !== undefined && v <= s.exclusiveMinimum) return `${name} must be > ${s.exclusiveMinimum}, got ${v}`;
  if (s.maximum !== undefined && v > s.maximum) return `${name} must be <= ${s.maximum}, got ${v}`;
  if (s.multipleOf !== undefined && v % s.multipleOf !== 0) return `${name} must be a multiple of ${s.multipleOf}, got ${v}`;
  return null;
}

function defaultOf(name: HyperparameterName, ctx: DefaultContext, hp: Resolved): Value {
  const d = SPECS[name].default;
  if (typeof d !== 'object') return d;
  return 'derive' in d ? d.derive(ctx, hp) : d[ctx.method];
}

/**
 * The one resolver: every value the caller gave is checked (type, range, then its constraints against the others
 * and the model); every other value is its default, derived from what was given. Only given values can be refused.
 */
export function resolveHyperparameters(given: Partial<Hyperparameters>, ctx: DefaultContext): Hyperparameters {
  for (const name of Object.keys(given)) if (!(name in SPECS)) throw new HyperparameterError(name, `${name} is not a known hyperparameter`);
  const hp: Resolved = {};
  for (const name of HYPERPARAMETER_NAMES) {
    const v = given[name];
    if (v === undefined) {
      hp[name] = defaultOf(name, ctx, hp);
      continue;
    }
    const problem = valueProblem(name, v);
    if (problem) throw new HyperparameterError(name, problem);
    hp[name] = v as Value;
  }
  for (const name of HYPERPARAMETER_NAMES) {
    const check = SPECS[name].check;
    const problem = given[name] !== undefined && check ? check(hp[name], hp, ctx) : null;
    if (problem) throw new HyperparameterError(name, problem);
  }
  return hp as Hyperparameters;
}

/** A job row's stored set (resolved when the job was created): checked complete, never resolved again. */
export function storedHyperparameters(json: unknown): Hyperparameters {
  const hp = (json ?? {}) as Record<string, unknown>;
  for (const name of HYPERPARAMETER_NAMES) {
    const problem = hp[name] === undefined ? `${name} is missing from the stored job` : valueProblem(name, hp[name]);
    if (problem) throw new HyperparameterError(name, problem);
  }
  return hp as Hyperparameters;
}

/** Only the values the API exposes (a job's response shows these; the row also holds the trainer-only ones). */
export function apiHyperparameters(hp: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(hp).filter(([n]) => (SPECS as Record<string, Spec>)[n]?.api !== false));
}

/** The table as Markdown (the README's hyperparameter section is this output). */
export function hyperparameterTableMarkdown(): string {
  const range = (s: Spec) =>
    s.kind === 'enum' ? s.values!.join(' \\| ')
      : s.kind === 'targets' ? `${s.values!.join(' \\| ')} \\| [names]`
      : `${s.exclusiveMinimum !== undefined ? `> ${s.exclusiveMinimum}` : `≥ ${s.minimum}`}, ≤ ${s.maximum}${s.multipleOf ? `, × ${s.multipleOf}` : ''}`;
  const rows = HYPERPARAMETER_NAMES.map((n) => {
    const s = SPECS[n];
    return `| \`${n}\` | ${s.kind} | ${defaultText(n).replace(/^default:? /, '')} | ${range(s)} | ${s.api ? 'yes' : 'no'} | ${s.description || '–'} |`;
  });
  return ['| name | type | default | range | in the API | what |', '| --- | --- | --- | --- | --- | --- |', ...rows].join('\n');
}
