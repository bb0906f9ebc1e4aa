import { createHash } from 'node:crypto';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  adapterFeeds, ArtifactDir, buildApplyUpdate, WeightSource, initLora, loadLora, loraKey, saveLora,
  ShardReader, KOHYA_FILE, STEP_INPUTS, STEP_OUTPUTS, saveKohyaLora, type AdapterMetadata, type LoraAdapter, type PreferenceMethod, type ShardReaderState,
} from '@npo/diffusion';
import { COMPILER_VERSION, hostTensor, numel, saveModel, type HostTensor, type Rng } from '@npo/graph';
import { sha256File, type Hyperparameters } from '@npo/contracts';
import { loadModelFolder } from '../model-folder.ts';
import type { StepProgram } from '../program.ts';
import { dropPrompts, drawTimesteps } from '../batch-draws.ts';
import { preferenceStepSpec } from '../preference-step-spec.ts';
import { fitStepToBudget, memoryBudgetMbOr } from '../step-memory-fit.ts';

/** Serializable description of a preference (NPO/DPO) LoRA run, handed to the training worker. */
export interface PreferenceProgramSpec {
  kind: 'preference';
  modelDir: string;
  preparedDir: string;
  method: PreferenceMethod;
  hp: Hyperparameters;
  workDir: string;
  /**
   * Memory the training process may use (MB): the step keeps as many activations as fit, and a job that cannot fit
   * even fully checkpointed is refused before compiling (JobTooLargeError; the worker refuses it earlier, before
   * preparation: memory-check.ts). Default: defaultMemoryBudgetMb of this machine.
   */
  memoryBudgetMb?: number;
}

export async function preferenceProgram(spec: PreferenceProgramSpec): Promise<StepProgram> {
  const model = loadModelFolder(spec.modelDir);
  const hp = spec.hp;
  const reader = new ShardReader(spec.preparedDir, { batchSize: hp.batch_pairs, seed: hp.seed });
  const { latent_shape: latentShape, embed_shape: embedShape } = reader.manifest;
  // the step as the memory check sized it (preference-step-spec.ts), on the prepared shapes; `weights` is the UNet
  // the graph reads: only names and shapes here, the compiled step reads the weights through its own hard link
  const baseWeights = WeightSource.fromSafetensors(model.unetWeights);
  const stepSpec = preferenceStepSpec({ model, weights: baseWeights, hp, method: spec.method, latentShape, embedShape });
  const { lora: { config: loraConfig, modules }, adamw, prediction, precision } = stepSpec;
  const init: LoraAdapter = initLora(baseWeights, loraConfig, hp.seed);
  const P = hp.batch_pairs;
  const K = hp.gradient_accumulation_steps ?? 1;
  const stepGraphHash = createHash('sha256')
    .update(JSON.stringify({
      v: COMPILER_VERSION, kind: 'preference', unet: model.unetConfig, weights: fileIdentity(model.unetWeights), lora: loraConfig, modules, P, ...(K > 1 ? { K } : {}),
      latent: latentShape, embed: embedShape, method: spec.method, beta: hp.beta, prediction, clip: hp.max_grad_norm, adamw,
      schedule: model.scheduler,
      // only a 16-bit precision keys the artifacts, so fp32 jobs keep the hash (and checkpoints) they had before it existed
      ...(precision !== 'fp32' ? { precision } : {}),
    }))
    .digest('hex');
  // the memory plan changes the graph, not the step's math: the budget keys the artifacts, not the checkpoints
  const budgetMb = memoryBudgetMbOr(spec.memoryBudgetMb);
  const dir = join(spec.workDir, 'artifacts', createHash('sha256').update(`${stepGraphHash}:${budgetMb}`).digest('hex').slice(0, 24));
  // One graph per step, or (K > 1) an `accumulate` graph per micro-batch and an `apply` graph per step.
  const modelPath = join(dir, K > 1 ? 'accumulate.onnx' : 'step.onnx');
  const applyPath = join(dir, 'apply.onnx');
  const paramNames = modules.flatMap((m) => [loraKey(m.path, 'A'), loraKey(m.path, 'B')]);
  if (!existsSync(join(dir, 'complete'))) {
    const { step: { graph } } = fitStepToBudget({ ...stepSpec, unet: { ...stepSpec.unet, weights: new ArtifactDir(dir).weights(model.unetWeights, 'unet.safetensors') } }, budgetMb, hp);
    saveModel(graph, modelPath);
    if (K > 1) {
      const shapes = adapterFeeds(init);
      saveModel(buildApplyUpdate({ params: paramNames.map((n) => ({ name: n, shape: shapes[n].shape })), microSteps: K, maxGradNorm: hp.max_grad_norm, adamw }), applyPath);
    }
    writeFileSync(join(dir, 'complete'), new Date().toISOString());
  }
  const baseSha = await sha256File(model.unetWeights);
  const latentSize = numel(latentShape);
  const T = model.scheduler.num_train_timesteps;
  const asAdapter = (params: Record<string, HostTensor>): LoraAdapter =>
    ({ config: loraConfig, modules: new Map(modules.map((m) => [m.path, { A: params[loraKey(m.path, 'A')], B: params[loraKey(m.path, 'B')] }])) });
  const adapterMeta = (step: number): AdapterMetadata => ({ method: spec.method, baseModelSha256: baseSha, step, extra: { beta: String(hp.beta) } });

  return {
    modelPath,
    ...(K > 1 ? { apply: { path: applyPath, microSteps: K } } : {}),
    stepGraphHash,
    paramNames,
    initialParams: () => adapterFeeds(init),
    batch(rng: Rng): Record<string, HostTensor> {
      const b = reader.nextBatch();
      const dropped = dropPrompts(b.embeds, reader.uncond, P, hp.prompt_dropout, rng);
      if (b.added) for (const i of dropped) b.added.pooled.set(reader.uncondPooled!, i * reader.uncondPooled!.length);
      const timesteps = drawTimesteps(rng, P, T);
      const noise = rng.fillNormal(new Float32Array(P * latentSize));
      return {
        [STEP_INPUTS.chosen]: hostTensor('float32', [P, ...latentShape], b.chosen),
        [STEP_INPUTS.rejected]: hostTensor('float32', [P, ...latentShape], b.rejected),
        [STEP_INPUTS.noise]: hostTensor('float32', [P, ...latentShape], noise),
        [STEP_INPUTS.timesteps]: hostTensor('int64', [P], timesteps),
        [STEP_INPUTS.embeds]: hostTensor('float32', [P, ...embedShape], b.embeds),
        ...(b.added && {
          [STEP_INPUTS.textEmbeds]: hostTensor('float32', [P, b.added.pooled.length / P], b.added.pooled),
          [STEP_INPUTS.chosenTimeIds]: hostTensor('float32', [P, 6], b.added.chosenTimeIds),
          [STEP_INPUTS.rejectedTimeIds]: hostTensor('float32', [P, 6], b.added.rejectedTimeIds),
        }),
      };
    },
    dataState: () => reader.getState(),
    setDataState: (s) => reader.setState(s as ShardReaderState),
    writeParams: (path, params, step) => saveLora(path, asAdapter(params), adapterMeta(step)),
    exports: [{ file: KOHYA_FILE, write: (path, params, step) => saveKohyaLora(path, asAdapter(params), adapterMeta(step)) }],
    readParams: (path) => adapterFeeds(loadLora(path)),
    metricOutputs: [STEP_OUTPUTS.loss, STEP_OUTPUTS.implicitAcc, STEP_OUTPUTS.gradNorm, STEP_OUTPUTS.modelMse, STEP_OUTPUTS.refMse],
  };
}

/** Cheap identity of a weights file (device, inode, size, mtime): a changed file gets new artifacts. */
function fileIdentity(path: string): string {
  const s = statSync(path);
  return createHash('sha256').update(`${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`).digest('hex').slice(0, 12);
}
