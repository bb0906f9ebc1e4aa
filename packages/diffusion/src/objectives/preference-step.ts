import { cast, grad, Graph, reduceMean, type AdamWOptions, type Value } from '@npo/graph';
import type { Precision } from '@npo/contracts';
import type { LoraConfig, LoraModuleSpec } from '../lora/adapter.ts';
import { computeDtype } from '../model/precision.ts';
import { loraInputs, type AttentionMemory, type LoraValues } from '../model/context.ts';
import type { WeightSource } from '../model/weights.ts';
import { addedConditioningInputs, type AddedConditioning } from '../unet/added-conditioning.ts';
import { pooledEmbedWidth, TIME_IDS, type UNetConfig } from '../unet/config.ts';
import { unetForward } from '../unet/unet.ts';
import { assembleModelBatch, preferenceLoss, type PreferenceMethod } from './preference.ts';
import { appendGradientSums, appendTrainingUpdate } from './training-update.ts';
import { STEP_INPUTS, STEP_OUTPUTS } from './step-graph-names.ts';

export interface PreferenceStepSpec {
  unet: { config: UNetConfig; weights: WeightSource };
  lora: { config: LoraConfig; modules: LoraModuleSpec[] };
  pairs: number;
  /** [C, H, W] of one latent (or pixel image for pixel-space models). */
  latentShape: number[];
  /** [tokens, dim] of one prompt embedding. */
  embedShape: number[];
  method: PreferenceMethod;
  beta: number;
  alphasCumprod: Float32Array;
  prediction: 'epsilon' | 'v_prediction';
  /** null: no clipping (the norm is still reported). */
  maxGradNorm: number | null;
  adamw: AdamWOptions;
  /** 'pairs': raw pairs, noised in-graph. 'model': the already-noised model batch (reference checks). */
  batch?: 'pairs' | 'model';
  /** Also output both predictions (`model_pred`, `ref_pred`), for checks. */
  debugOutputs?: boolean;
  /** Also output the raw gradients (`grad.<key>`), for checks. */
  emitGradients?: boolean;
  /** 'mse_mean': differentiate the mean per-sample MSE of the adapted model instead (a well-conditioned check). */
  objective?: 'preference' | 'mse_mean';
  /** Build forward + loss + gradients only (no optimizer update). */
  optimizer?: boolean;
  /**
   * 'step' (default): clip + AdamW in the same graph. 'accumulate': no update; `grad_sum.<key>` in, the sum plus
   * this batch's gradient out as `new.grad_sum.<key>` (the `apply` graph of buildApplyUpdate does the update).
   */
  update?: 'step' | 'accumulate';
  /** Attention chunking / checkpointing thresholds (default: packages/graph attention.ts). */
  attention?: AttentionMemory;
  /** Activation checkpointing of every resnet and transformer block of the adapted UNet (the reference keeps nothing anyway). */
  checkpointBlocks?: boolean;
  /** 'fp16' / 'bf16': both UNets' frozen weights and Conv/Linear/attention matmuls in 16 bits (model/precision.ts); default 'fp32'. */
  precision?: Precision;
}

export interface StepGraph {
  graph: Graph;
  /** LoRA tensor names in feed order (`unet.<path>.lora_A.weight`, …). */
  paramNames: string[];
}

/**
 * One Diffusion-DPO/NPO training step as a graph: the LoRA-adapted UNet and the reference (the same
 * weights, adapter off) on the [first; second] batch, the preference loss, its gradient w.r.t. the
 * adapter, grad-norm clipping and an AdamW update. One session.run = one step.
 */
export function buildPreferenceStep(spec: PreferenceStepSpec): StepGraph {
  const g = new Graph();
  const P = spec.pairs;
  const modules = loraInputs(g, spec.lora.modules, spec.lora.config.rank);
  const params = [...modules.values()].flatMap(({ A, B }) => [A, B]);
  const paramNames = params.map((p) => p.name);
  let noisy: Value, t: Value, embeds: Value, target: Value;
  let added: AddedConditioning | undefined;
  const addition = spec.unet.config.addition;
  if ((spec.batch ?? 'pairs') === 'pairs') {
    const chosen = g.input(STEP_INPUTS.chosen, 'float32', [P, ...spec.latentShape]);
    const rejected = g.input(STEP_INPUTS.rejected, 'float32', [P, ...spec.latentShape]);
    const noise = g.input(STEP_INPUTS.noise, 'float32', [P, ...spec.latentShape]);
    const timesteps = g.input(STEP_INPUTS.timesteps, 'int64', [P]);
    const emb = g.input(STEP_INPUTS.embeds, 'float32', [P, ...spec.embedShape]);
    const pairAdded = addition && {
      textEmbeds: g.input(STEP_INPUTS.textEmbeds, 'float32', [P, pooledEmbedWidth(addition)]),
      chosenTimeIds: g.input(STEP_INPUTS.chosenTimeIds, 'float32', [P, TIME_IDS]),
      rejectedTimeIds: g.input(STEP_INPUTS.rejectedTimeIds, 'float32', [P, TIME_IDS]),
    };
    const mb = assembleModelBatch({ chosen, rejected, noise, timesteps, embeds: emb, added: pairAdded ?? undefined }, spec.method, spec.alphasCumprod, spec.prediction);
    ({ noisy, embeds, target, added } = mb);
    t = mb.timestepsFloat;
  } else {
    noisy = g.input('model_input', 'float32', [2 * P, ...spec.latentShape]);
    t = cast(g.input('model_timesteps', 'int64', [2 * P]), 'float32');
    embeds = g.input('model_embeds', 'float32', [2 * P, ...spec.embedShape]);
    target = g.input('target', 'float32', [2 * P, ...spec.latentShape]);
    added = addedConditioningInputs(g, spec.unet.config, 2 * P, 'model_');
  }
  const adapter: LoraValues = { modules, scale: spec.lora.config.alpha / spec.lora.config.rank };
  const inputs = { sample: noisy, timesteps: t, encoderHiddenStates: embeds, added };
  const compute = spec.precision && spec.precision !== 'fp32' ? { compute: computeDtype(spec.precision) } : {};
  const modelPred = g.scope('model', () => unetForward({ g, weights: spec.unet.weights, adapters: [adapter], attention: spec.attention, checkpointBlocks: spec.checkpointBlocks, ...compute }, spec.unet.config, inputs));
  const refPred = g.scope('reference', () => unetForward({ g, weights: spec.unet.weights, adapters: [], attention: spec.attention, ...compute }, spec.unet.config, inputs));
  const L = preferenceLoss(modelPred, refPred, target, spec.beta);
  g.output(STEP_OUTPUTS.loss, L.loss);
  g.output(STEP_OUTPUTS.implicitAcc, L.implicitAcc);
  g.output('model_losses', L.modelLosses);
  g.output('ref_losses', L.refLosses);
  g.output('inside', L.inside);
  g.output(STEP_OUTPUTS.modelMse, reduceMean(L.modelLosses));
  g.output(STEP_OUTPUTS.refMse, reduceMean(L.refLosses));
  if (spec.debugOutputs) {
    g.output('model_pred', modelPred);
    g.output('ref_pred', refPred);
  }

  const objective = spec.objective === 'mse_mean' ? reduceMean(L.modelLosses) : L.loss;
  const grads = grad(objective, params);
  if (spec.emitGradients) grads.forEach((d, i) => g.output(`grad.${paramNames[i]}`, d));
  if (spec.update === 'accumulate') appendGradientSums(g, paramNames, params, grads);
  else appendTrainingUpdate(g, paramNames, params, grads, spec.maxGradNorm, (spec.optimizer ?? true) ? spec.adamw : null);
  return { graph: g, paramNames };
}
