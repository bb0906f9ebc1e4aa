import { hostTensor, Rng, Session, type ExecutionProvider, type HostTensor } from '@npo/graph';
import { CheckpointError, readCheckpoint, writeCheckpoint } from './checkpoint.ts';
import { InputError, type Hyperparameters } from '@npo/contracts';
import { learningRate } from './lr-schedule.ts';
import { peakRssMb } from './peak-rss.ts';
import { adamStateName as stateName, gradSumName, STEP_INPUTS, STEP_OUTPUTS, updatedName as updated } from '@npo/diffusion';
import type { StepProgram } from './program.ts';

export interface StepMetrics {
  step: number;
  total_steps: number;
  loss: number;
  implicit_acc: number;
  grad_norm: number;
  lr: number;
  step_ms: number;
  /** The training process's peak resident set so far in this run, MiB (peak-rss.ts). */
  peak_rss_mb: number;
  [metric: string]: number;
}

export interface CheckpointWritten {
  step: number;
  dir: string;
  files: string[];
  final: boolean;
}

export interface LoopOptions {
  hp: Pick<Hyperparameters, 'steps' | 'learning_rate' | 'warmup_steps' | 'lr_schedule' | 'checkpoint_every' | 'seed'>;
  checkpointRoot: string;
  resumeFromDir?: string;
  executionProvider?: ExecutionProvider;
  threads?: number;
  /** Checked between steps: a stop request ends the run after the step in flight. */
  shouldStop: () => boolean;
  /** With a stop: checkpoint the state reached first (a worker shutting down hands the job to another). */
  suspendRequested?: () => boolean;
  onStep: (m: StepMetrics) => void;
  onCheckpoint: (c: CheckpointWritten) => void;
}

/**
 * The training loop: one session.run per step (or, with gradient accumulation, one `accumulate` run per
 * micro-batch and one `apply` run), parameters and AdamW state fed back each time, checkpoints (params +
 * optimizer state + step + RNG and data positions) every N optimizer steps and at the end.
 */
export async function runLoop(program: StepProgram, o: LoopOptions): Promise<{ steps: number; stopped: boolean; params: Record<string, HostTensor> }> {
  const sessionOptions = { executionProvider: o.executionProvider, threads: o.threads };
  const session = await Session.create(program.modelPath, sessionOptions);
  const applySession = program.apply ? await Session.create(program.apply.path, sessionOptions).catch(async (e) => {
    await session.release();
    throw e;
  }) : null;
  let params: Record<string, HostTensor>;
  let optimizer: Record<string, HostTensor>;
  let rng = new Rng(o.hp.seed, 1);
  let step = 0;
  if (o.resumeFromDir) {
    const c = readCheckpoint(o.resumeFromDir, (p) => program.readParams(p));
    if (c.state.step_graph_hash !== program.stepGraphHash)
      throw new CheckpointError(`checkpoint ${o.resumeFromDir} was written by a different model, adapter or batch configuration`);
    params = c.params;
    optimizer = c.optimizer;
    rng = Rng.fromState(c.state.rng);
    program.setDataState(c.state.data);
    step = c.state.step;
  } else {
    params = program.initialParams();
    optimizer = {};
    for (const n of program.paramNames) {
      optimizer[stateName(n, 'm')] = hostTensor('float32', params[n].shape);
      optimizer[stateName(n, 'v')] = hostTensor('float32', params[n].shape);
    }
  }
  const total = o.hp.steps;
  const updates = program.paramNames.flatMap((n) => [updated(n), updated(stateName(n, 'm')), updated(stateName(n, 'v'))]);
  const outputs = [...updates, ...program.metricOutputs];
  // With accumulation the micro-batch graph reports the batch metrics and the apply graph the (mean) gradient norm.
  const microMetrics = program.metricOutputs.filter((n) => n !== STEP_OUTPUTS.gradNorm);
  const sumOutputs = program.paramNames.map((n) => updated(gradSumName(n)));
  const stepInputs = (lr: number) => ({ [STEP_INPUTS.step]: hostTensor('float32', [], [step + 1]), [STEP_INPUTS.lr]: hostTensor('float32', [], [lr]) });
  /** One optimizer step over `apply.microSteps` micro-batches: the update's outputs and the mean of the batch metrics. */
  const accumulatedStep = async (lr: number): Promise<Record<string, HostTensor>> => {
    const micro = program.apply!.microSteps;
    let sums: Record<string, HostTensor> = {};
    for (const n of program.paramNames) sums[gradSumName(n)] = hostTensor('float32', params[n].shape);
    const metricSums: Record<string, number> = Object.fromEntries(microMetrics.map((n) => [n, 0]));
    for (let k = 0; k < micro; k++) {
      const r = await session.run({ ...params, ...sums, ...program.batch(rng) }, [...sumOutputs, ...microMetrics]);
      sums = {};
      for (const n of program.paramNames) sums[gradSumName(n)] = r[updated(gradSumName(n))];
      for (const n of microMetrics) if (r[n].data.length === 1) metricSums[n] += Number(r[n].data[0]);
    }
    const res = await applySession!.run({ ...params, ...optimizer, ...sums, ...stepInputs(lr) }, [...updates, STEP_OUTPUTS.gradNorm]);
    for (const n of microMetrics) res[n] = hostTensor('float32', [], [metricSums[n] / micro]);
    return res;
  };
  let checkpointedAt = step;
  const checkpoint = (final: boolean) => {
    checkpointedAt = step;
    const { dir, files } = writeCheckpoint(
      o.checkpointRoot,
      { params, optimizer, state: { step, total_steps: total, rng: rng.getState(), data: program.dataState(), step_graph_hash: program.stepGraphHash } },
      (path, p) => program.writeParams(path, p, step),
      (program.exports ?? []).map((e) => ({ file: e.file, write: (path, p) => e.write(path, p, step) })),
    );
    o.onCheckpoint({ step, dir, files, final });
  };
  let stopped = false;
  try {
    while (step < total) {
      if (o.shouldStop()) {
        if (o.suspendRequested?.() && step > checkpointedAt) checkpoint(false);
        stopped = true;
        break;
      }
      const t0 = performance.now();
      const lr = learningRate(step + 1, o.hp.learning_rate, o.hp.warmup_steps, total, o.hp.lr_schedule);
      const res = applySession
        ? await accumulatedStep(lr)
        : await session.run({ ...params, ...optimizer, ...program.batch(rng), ...stepInputs(lr) }, outputs);
      step++;
      for (const n of program.paramNames) {
        params[n] = res[updated(n)];
        optimizer[stateName(n, 'm')] = res[updated(stateName(n, 'm'))];
        optimizer[stateName(n, 'v')] = res[updated(stateName(n, 'v'))];
      }
      const metrics: StepMetrics = { step, total_steps: total, lr, step_ms: performance.now() - t0, peak_rss_mb: peakRssMb(), loss: NaN, implicit_acc: NaN, grad_norm: NaN };
      for (const name of program.metricOutputs) if (res[name].data.length === 1) metrics[name] = Number(res[name].data[0]);
      if (!Number.isFinite(metrics.loss)) throw new TrainingDivergedError(step, metrics.loss);
      o.onStep(metrics);
      if (step % o.hp.checkpoint_every === 0 && step < total) checkpoint(false);
    }
    if (!stopped) checkpoint(true);
  } finally {
    await session.release();
    await applySession?.release();
  }
  return { steps: step, stopped, params };
}

/** The same settings diverge again on a retry: input, not an outage. */
export class TrainingDivergedError extends InputError {
  constructor(step: number, loss: number) {
    super(`the loss became ${loss} at step ${step}; lower learning_rate or beta`, { step }, 'training_diverged', 422);
  }
}
