import { BETA_DEFAULTS, HYPERPARAMETER_DEFAULTS, type Hyperparameters } from '@npo/contracts';
import type { PreferenceMethod } from '@npo/diffusion';

/** The API's hyperparameters (packages/contracts), plus the optimizer and data knobs the trainer also takes. */
export type TrainHyperparameters = Hyperparameters & {
  weight_decay: number;
  /** Probability of training a pair on the unconditional embedding instead of its prompt. */
  prompt_dropout: number;
};

/** The service's defaults (packages/contracts) for this method and resolution. */
export function defaultHyperparameters(method: PreferenceMethod, resolution: number): TrainHyperparameters {
  return { ...HYPERPARAMETER_DEFAULTS, beta: BETA_DEFAULTS[method], resolution, weight_decay: 1e-2, prompt_dropout: 0 };
}

export class HyperparameterError extends Error {
  readonly code = 'invalid_hyperparameters';
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'HyperparameterError';
  }
}

const RANGES: Partial<Record<keyof TrainHyperparameters, [number, number, boolean]>> = {
  steps: [1, 1_000_000, true],
  batch_pairs: [1, 4096, true],
  gradient_accumulation_steps: [1, 4096, true],
  learning_rate: [0, 1, false],
  beta: [0, 1e7, false],
  lora_rank: [1, 1024, true],
  lora_alpha: [1e-6, 1e6, false],
  warmup_steps: [0, 1_000_000, true],
  max_grad_norm: [0, 1e9, false],
  resolution: [8, 4096, true],
  checkpoint_every: [1, 1_000_000, true],
  seed: [0, 2 ** 53 - 1, true],
  weight_decay: [0, 10, false],
  prompt_dropout: [0, 1, false],
};

/** Defaults overlaid with what was given, every field checked (finite, integer where it must be, in range). */
export function resolveHyperparameters(method: PreferenceMethod, resolution: number, given: Partial<TrainHyperparameters> = {}): TrainHyperparameters {
  const hp = { ...defaultHyperparameters(method, resolution), ...given };
  for (const [field, [lo, hi, integer]] of Object.entries(RANGES) as [keyof TrainHyperparameters, [number, number, boolean]][]) {
    const v = hp[field] as number;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new HyperparameterError(field, `must be a finite number, got ${JSON.stringify(v)}`);
    if (integer && !Number.isInteger(v)) throw new HyperparameterError(field, `must be an integer, got ${v}`);
    if (v < lo || v > hi) throw new HyperparameterError(field, `must be between ${lo} and ${hi}, got ${v}`);
  }
  if (hp.lr_schedule !== 'constant' && hp.lr_schedule !== 'cosine')
    throw new HyperparameterError('lr_schedule', `must be "constant" or "cosine", got ${JSON.stringify(hp.lr_schedule)}`);
  return hp;
}
