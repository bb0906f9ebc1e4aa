import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alphasCumprod, buildPretrainStep, initUNetWeights, parseSchedulerConfig, parseUNetConfig, STEP_INPUTS, STEP_OUTPUTS, type SchedulerConfig } from '@npo/diffusion';
import { ADAMW_DEFAULTS, COMPILER_VERSION, hostTensor, numel, readSafetensors, saveModel, writeSafetensors, type HostTensor, type Rng } from '@npo/graph';
import type { Hyperparameters } from '@npo/contracts';
import type { StepProgram } from '../program.ts';
import { dropPrompts, drawTimesteps } from '../batch-draws.ts';

/**
 * A source of fresh training samples, loaded in the worker from `module` (it must export
 * `createTrainingSource(options)`), so worlds that render their own data need no dataset on disk.
 */
export interface TrainingSource {
  sampleShape: number[];
  embedShape: number[];
  uncond: Float32Array;
  next(n: number, rng: Rng): { images: Float32Array; embeds: Float32Array };
}

export interface PretrainProgramSpec {
  kind: 'pretrain';
  unetConfig: Record<string, unknown>;
  scheduler: Record<string, unknown>;
  /** Starting weights (diffusers safetensors); absent: torch-default init from hp.seed. */
  initWeights?: string;
  source: { module: string; options: unknown };
  hp: Pick<Hyperparameters, 'batch_pairs' | 'seed' | 'max_grad_norm' | 'weight_decay' | 'prompt_dropout'>;
  workDir: string;
}

export async function pretrainProgram(spec: PretrainProgramSpec): Promise<StepProgram> {
  const config = parseUNetConfig(spec.unetConfig);
  const scheduler: SchedulerConfig = parseSchedulerConfig(spec.scheduler);
  const mod = await import(spec.source.module);
  const source: TrainingSource = mod.createTrainingSource(spec.source.options);
  const N = spec.hp.batch_pairs;
  const adamw = { ...ADAMW_DEFAULTS, weightDecay: spec.hp.weight_decay };
  const stepGraphHash = createHash('sha256')
    .update(JSON.stringify({ v: COMPILER_VERSION, kind: 'pretrain', config, scheduler, N, s: source.sampleShape, e: source.embedShape, clip: spec.hp.max_grad_norm, adamw }))
    .digest('hex');
  const dir = join(spec.workDir, 'artifacts', stepGraphHash.slice(0, 24));
  const modelPath = join(dir, 'pretrain.onnx');
  let paramNames: string[];
  if (!existsSync(join(dir, 'complete'))) {
    mkdirSync(dir, { recursive: true });
    const built = buildPretrainStep({
      config, batch: N, sampleShape: source.sampleShape, embedShape: source.embedShape, alphasCumprod: alphasCumprod(scheduler),
      prediction: scheduler.prediction_type, maxGradNorm: spec.hp.max_grad_norm, adamw,
    });
    paramNames = built.paramNames;
    saveModel(built.graph, modelPath);
    writeFileSync(join(dir, 'complete'), JSON.stringify(paramNames));
  } else paramNames = JSON.parse(readFileSync(join(dir, 'complete'), 'utf8'));
  const per = numel(source.sampleShape);
  const T = scheduler.num_train_timesteps;
  return {
    modelPath,
    stepGraphHash,
    paramNames,
    initialParams: () => (spec.initWeights ? readSafetensors(spec.initWeights) : initUNetWeights(config, spec.hp.seed)),
    batch(rng: Rng): Record<string, HostTensor> {
      const { images, embeds } = source.next(N, rng);
      dropPrompts(embeds, source.uncond, N, spec.hp.prompt_dropout, rng);
      const timesteps = drawTimesteps(rng, N, T);
      return {
        [STEP_INPUTS.images]: hostTensor('float32', [N, ...source.sampleShape], images),
        [STEP_INPUTS.noise]: hostTensor('float32', [N, ...source.sampleShape], rng.fillNormal(new Float32Array(N * per))),
        [STEP_INPUTS.timesteps]: hostTensor('int64', [N], timesteps),
        [STEP_INPUTS.embeds]: hostTensor('float32', [N, ...source.embedShape], embeds),
      };
    },
    dataState: () => null,
    setDataState: () => {},
    writeParams: (path, params, step) => writeSafetensors(path, params, { format: 'pt', step: String(step), method: 'pretrain' }),
    readParams: (path) => readSafetensors(path),
    metricOutputs: [STEP_OUTPUTS.loss, STEP_OUTPUTS.gradNorm],
  };
}
