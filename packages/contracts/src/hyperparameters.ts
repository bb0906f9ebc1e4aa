import type { JobMethod } from './schemas/jobs.ts';

// Training hyperparameters and their defaults (the reference runs' settings for real SD-class models):
//   steps 400, batch_pairs 16, gradient_accumulation_steps 1 (optimizer steps use the mean gradient of
//   batch_pairs × gradient_accumulation_steps pairs), learning_rate 1e-5 (AdamW, constant schedule after warm-up),
//   beta 1000 for NPO (the NPO reference runs on SD1.5) and 5000 for DPO (the SD1.5 Diffusion-DPO default),
//   lora_rank 8, lora_alpha 8 (alpha = rank), warmup_steps 10, max_grad_norm 1.0, checkpoint_every 50, seed 0,
//   resolution = the model's sample_size × 8 for latent models (a VAE downsamples by 8), or its sample_size for
//   pixel-space models (no vae/).
export interface Hyperparameters {
  steps: number;
  batch_pairs: number;
  gradient_accumulation_steps: number;
  learning_rate: number;
  beta: number;
  lora_rank: number;
  lora_alpha: number;
  warmup_steps: number;
  lr_schedule: 'constant' | 'cosine';
  max_grad_norm: number;
  resolution: number;
  checkpoint_every: number;
  seed: number;
}

export const HYPERPARAMETER_DEFAULTS = {
  steps: 400,
  batch_pairs: 16,
  gradient_accumulation_steps: 1,
  learning_rate: 1e-5,
  lora_rank: 8,
  lora_alpha: 8,
  warmup_steps: 10,
  lr_schedule: 'constant',
  max_grad_norm: 1.0,
  checkpoint_every: 50,
  seed: 0,
} as const;

export const BETA_DEFAULTS: Record<JobMethod, number> = { npo: 1000, dpo: 5000 };

export interface ModelShapeInfo {
  pixelSpace: boolean;
  sampleSize: number;
}

export function defaultResolution(model: ModelShapeInfo): number {
  return model.pixelSpace ? model.sampleSize : model.sampleSize * 8;
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

/** Fills the defaults in; the request schema has already range-checked whatever was given. */
export function resolveHyperparameters(
  given: Partial<Hyperparameters>,
  method: JobMethod,
  model: ModelShapeInfo,
): Hyperparameters {
  const lora_rank = given.lora_rank ?? HYPERPARAMETER_DEFAULTS.lora_rank;
  return {
    steps: given.steps ?? HYPERPARAMETER_DEFAULTS.steps,
    batch_pairs: given.batch_pairs ?? HYPERPARAMETER_DEFAULTS.batch_pairs,
    gradient_accumulation_steps: given.gradient_accumulation_steps ?? HYPERPARAMETER_DEFAULTS.gradient_accumulation_steps,
    learning_rate: given.learning_rate ?? HYPERPARAMETER_DEFAULTS.learning_rate,
    beta: given.beta ?? BETA_DEFAULTS[method],
    lora_rank,
    // alpha defaults to the rank (scale 1), as in the reference runs
    lora_alpha: given.lora_alpha ?? lora_rank,
    warmup_steps: given.warmup_steps ?? HYPERPARAMETER_DEFAULTS.warmup_steps,
    lr_schedule: given.lr_schedule ?? HYPERPARAMETER_DEFAULTS.lr_schedule,
    max_grad_norm: given.max_grad_norm ?? HYPERPARAMETER_DEFAULTS.max_grad_norm,
    resolution: given.resolution ?? defaultResolution(model),
    checkpoint_every: given.checkpoint_every ?? HYPERPARAMETER_DEFAULTS.checkpoint_every,
    seed: given.seed ?? HYPERPARAMETER_DEFAULTS.seed,
  };
}
