import { alphasCumprod, DEFAULT_TARGETS, targetModuleSpecs, type LoraConfig, type PreferenceMethod, type StepSpecForMemory, type WeightSource } from '@npo/diffusion';
import { ADAMW_DEFAULTS } from '@npo/graph';
import type { Hyperparameters } from '@npo/contracts';
import type { ModelFolder } from './model-folder.ts';

/** The adapter a job trains, from its hyperparameters. */
export function loraConfigOf(hp: Hyperparameters): LoraConfig {
  return { rank: hp.lora_rank, alpha: hp.lora_alpha, targets: hp.lora_targets ?? DEFAULT_TARGETS };
}

/**
 * The step graph a preference job trains, before the memory plan is chosen: the one builder for the program that
 * compiles it (programs/preference.ts) and for the check that sizes the job before its dataset is prepared
 * (memory-check.ts), so both judge the same graph. `weights` is the UNet as the graph will read it (its names and
 * shapes decide the adapted modules); the shapes are one prepared pair's.
 */
export function preferenceStepSpec(o: {
  model: ModelFolder; weights: WeightSource; hp: Hyperparameters; method: PreferenceMethod; latentShape: number[]; embedShape: number[];
}): StepSpecForMemory {
  const { hp, model } = o;
  const lora = loraConfigOf(hp);
  return {
    unet: { config: model.unetConfig, weights: o.weights },
    lora: { config: lora, modules: targetModuleSpecs(o.weights, lora.targets) },
    pairs: hp.batch_pairs,
    latentShape: o.latentShape,
    embedShape: o.embedShape,
    method: o.method,
    beta: hp.beta,
    alphasCumprod: alphasCumprod(model.scheduler),
    prediction: model.scheduler.prediction_type,
    maxGradNorm: hp.max_grad_norm,
    adamw: { ...ADAMW_DEFAULTS, weightDecay: hp.weight_decay },
    // K > 1: an `accumulate` graph per micro-batch (the `apply` graph of the update is small beside it)
    update: (hp.gradient_accumulation_steps ?? 1) > 1 ? 'accumulate' : 'step',
    // a job stored before the hyperparameter existed has none: fp32
    precision: hp.precision ?? 'fp32',
  };
}
