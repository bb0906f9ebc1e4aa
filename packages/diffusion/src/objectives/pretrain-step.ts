import { cast, grad, Graph, mul, reduceMean, sub, type AdamWOptions } from '@npo/graph';
import { WeightSource } from '../model/weights.ts';
import type { UNetConfig } from '../unet/config.ts';
import { unetParameterShapes } from '../unet/parameters.ts';
import { unetForward } from '../unet/unet.ts';
import { noiseSamples } from './noising.ts';
import { appendTrainingUpdate } from './training-update.ts';
import { STEP_INPUTS, STEP_OUTPUTS } from './step-graph-names.ts';

export interface PretrainStepSpec {
  config: UNetConfig;
  batch: number;
  /** [C, H, W] of one training sample (latents, or pixels for a pixel-space model). */
  sampleShape: number[];
  embedShape: number[];
  alphasCumprod: Float32Array;
  prediction: 'epsilon' | 'v_prediction';
  maxGradNorm: number | null;
  adamw: AdamWOptions;
}

/**
 * One full-parameter step of the standard denoising objective, mean((UNet(x_t, t, c) − target)²), with every
 * UNet weight a graph input: weight gradients flow through Conv, Gemm/MatMul, norms and biases alike.
 */
export function buildPretrainStep(spec: PretrainStepSpec): { graph: Graph; paramNames: string[] } {
  const g = new Graph();
  const shapes = unetParameterShapes(spec.config);
  const placeholder = Object.fromEntries([...shapes].map(([n, s]) => [n, { dtype: 'float32' as const, shape: s, data: new Float32Array(0) }]));
  const weights = WeightSource.fromTensors(placeholder, 'input');
  const N = spec.batch;
  const x0 = g.input(STEP_INPUTS.images, 'float32', [N, ...spec.sampleShape]);
  const noise = g.input(STEP_INPUTS.noise, 'float32', [N, ...spec.sampleShape]);
  const timesteps = g.input(STEP_INPUTS.timesteps, 'int64', [N]);
  const embeds = g.input(STEP_INPUTS.embeds, 'float32', [N, ...spec.embedShape]);
  const { noisy, target } = noiseSamples(x0, noise, timesteps, spec.alphasCumprod, spec.prediction);
  const pred = unetForward({ g, weights, adapters: [] }, spec.config, { sample: noisy, timesteps: cast(timesteps, 'float32'), encoderHiddenStates: embeds });
  const d = sub(pred, target);
  const loss = reduceMean(mul(d, d));
  g.output(STEP_OUTPUTS.loss, loss);
  const paramNames = [...shapes.keys()];
  const params = paramNames.map((n) => weights.param(g, n));
  const grads = grad(loss, params);
  appendTrainingUpdate(g, paramNames, params, grads, spec.maxGradNorm, spec.adamw);
  return { graph: g, paramNames };
}
