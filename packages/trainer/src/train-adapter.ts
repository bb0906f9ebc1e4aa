import { join } from 'node:path';
import type { ExecutionProvider } from '@npo/graph';
import { assertPrecisionSupported, type PreferenceMethod } from '@npo/diffusion';
import type { Hyperparameters } from '@npo/contracts';
import { runTraining, type CheckpointWritten, type StepMetrics } from './run.ts';

export interface TrainAdapterOptions {
  modelDir: string;
  preparedDir: string;
  method: PreferenceMethod;
  /** A complete set, as resolveHyperparameters (@npo/contracts) returns it; a job's stored set is one. */
  hyperparameters: Hyperparameters;
  /** Scratch: compiled artifacts (cached by content) and checkpoints. */
  workDir: string;
  executionProvider?: ExecutionProvider;
  threads?: number;
  /** Memory the training process may use, MB (the worker's MEMORY_BUDGET_MB); default: this machine's less a margin. */
  memoryBudgetMb?: number;
  /** A local folder holding a checkpoint's files: training continues from its step, bit for bit. */
  resumeFromDir?: string;
  signal?: AbortSignal;
  /** A worker shutting down: checkpoint after the step in flight and return `suspended` (the job resumes elsewhere). */
  suspend?: AbortSignal;
  onPhase?: (p: 'compiling' | 'training') => void | Promise<void>;
  onStep?: (m: StepMetrics) => void | Promise<void>;
  onCheckpoint?: (c: CheckpointWritten) => Promise<void>;
}

/** Trains an NPO (or DPO) LoRA on a prepared preference dataset; the final adapter is a PEFT safetensors file. */
export async function trainAdapter(o: TrainAdapterOptions): Promise<{ finalAdapter: string | null; steps: number; cancelled: boolean; suspended?: boolean }> {
  const hp = o.hyperparameters;
  // bf16 on a CPU worker: refused here, by name, not deep inside onnxruntime's session creation
  assertPrecisionSupported(hp.precision, o.executionProvider);
  const result = await runTraining(
    { kind: 'preference', modelDir: o.modelDir, preparedDir: o.preparedDir, method: o.method, hp, workDir: o.workDir, memoryBudgetMb: o.memoryBudgetMb },
    {
      hp,
      checkpointRoot: join(o.workDir, 'checkpoints'),
      resumeFromDir: o.resumeFromDir,
      executionProvider: o.executionProvider,
      threads: o.threads,
    },
    o,
  );
  const final = result.lastCheckpoint?.final ? result.lastCheckpoint.files[0] : null;
  const suspended = result.stopped && !!o.suspend?.aborted && !o.signal?.aborted;
  return { finalAdapter: final, steps: result.steps, cancelled: result.stopped && !suspended, suspended };
}
