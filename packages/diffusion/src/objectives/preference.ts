import { add, cast, concat, equal, greater, mul, reduceMean, softplus, split, sub, type Value } from '@npo/graph';
import type { AddedConditioning } from '../unet/added-conditioning.ts';
import { noiseSamples } from './noising.ts';

export type PreferenceMethod = 'npo' | 'dpo';

export interface PreferenceLossValues {
  loss: Value;
  implicitAcc: Value;
  /** [2P]: per-sample MSE of the adapted model and of the reference, first half = preferred side of the batch. */
  modelLosses: Value;
  refLosses: Value;
  inside: Value;
  modelDiff: Value;
  refDiff: Value;
}

/** Mean over every axis but the batch axis of (pred − target)²: [B]. */
export function perSampleMse(pred: Value, target: Value): Value {
  const d = sub(pred, target);
  return reduceMean(mul(d, d), [...pred.shape.keys()].slice(1));
}

/**
 * The Diffusion-DPO objective on a model batch laid out [first₀…first_{P−1}, second₀…second_{P−1}], where
 * "first" is the side the loss pushes the model towards (winners for DPO, losers for NPO):
 * inside = −β/2·((L_θ(first) − L_θ(second)) − (L_ref(first) − L_ref(second))), loss = mean(−logsigmoid(inside)).
 */
export function preferenceLoss(modelPred: Value, refPred: Value, target: Value, beta: number): PreferenceLossValues {
  const pairs = modelPred.shape[0] / 2;
  const modelLosses = perSampleMse(modelPred, target);
  const refLosses = perSampleMse(refPred, target);
  const diff = (l: Value) => {
    const [a, b] = split(l, [pairs, pairs], 0);
    return sub(a, b);
  };
  const modelDiff = diff(modelLosses);
  const refDiff = diff(refLosses);
  const inside = mul(sub(modelDiff, refDiff), -0.5 * beta);
  // −logsigmoid(x) = softplus(−x), stable for large |x|.
  const loss = reduceMean(softplus(mul(inside, -1)));
  const wins = add(cast(greater(inside, 0), 'float32'), mul(cast(equal(inside, 0), 'float32'), 0.5));
  return { loss, implicitAcc: reduceMean(wins), modelLosses, refLosses, inside, modelDiff, refDiff };
}

export interface PairBatchValues {
  /** [P, C, H, W] latents of the preferred and rejected images of each pair. */
  chosen: Value;
  rejected: Value;
  /** [P, C, H, W], shared by both images of a pair. */
  noise: Value;
  /** int64 [P], shared by both images of a pair. */
  timesteps: Value;
  /** [P, T, D] */
  embeds: Value;
  /** text_time UNets: [P, pooled] per pair, and [P, 6] micro-conditioning of each pair's chosen and rejected image. */
  added?: { textEmbeds: Value; chosenTimeIds: Value; rejectedTimeIds: Value };
}

export interface ModelBatch {
  noisy: Value;
  timestepsFloat: Value;
  embeds: Value;
  target: Value;
  added?: AddedConditioning;
}

/**
 * Noises both sides of every pair with the pair's shared noise and timestep and stacks them [first; second].
 * NPO trains on the reversed preference, so its "first" is the rejected image. The prompt (and pooled) embedding
 * is the pair's on both sides; each image keeps its own micro-conditioning (its size and crop), so time ids move
 * with their image.
 */
export function assembleModelBatch(
  batch: PairBatchValues, method: PreferenceMethod, alphasCumprod: Float32Array, prediction: 'epsilon' | 'v_prediction',
): ModelBatch {
  const [first, second] = method === 'npo' ? [batch.rejected, batch.chosen] : [batch.chosen, batch.rejected];
  const t2 = concat([batch.timesteps, batch.timesteps], 0);
  const z = concat([first, second], 0);
  const eps = concat([batch.noise, batch.noise], 0);
  const { noisy, target } = noiseSamples(z, eps, t2, alphasCumprod, prediction);
  const a = batch.added;
  const added = a && {
    textEmbeds: concat([a.textEmbeds, a.textEmbeds], 0),
    timeIds: concat(method === 'npo' ? [a.rejectedTimeIds, a.chosenTimeIds] : [a.chosenTimeIds, a.rejectedTimeIds], 0),
  };
  return { noisy, timestepsFloat: cast(t2, 'float32'), embeds: concat([batch.embeds, batch.embeds], 0), target, added };
}

