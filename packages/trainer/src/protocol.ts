import { isRetryable } from '@npo/contracts';
import type { CheckpointWritten, LoopOptions, StepMetrics } from './loop.ts';

/** An error as it crosses a thread boundary (training or preparation): the class does not, its name, code, status and retryability do. */
export interface ThreadFailure { name: string; message: string; code?: string; status?: number; retryable: boolean; stack?: string }

export function threadFailure(e: unknown): ThreadFailure {
  const err = e as Error & { code?: unknown; status?: unknown };
  return {
    name: err?.name ?? 'Error',
    message: err?.message ?? String(e),
    code: typeof err?.code === 'string' ? err.code : undefined,
    status: typeof err?.status === 'number' ? err.status : undefined,
    retryable: isRetryable(e),
    stack: err?.stack,
  };
}

export interface WorkerInit {
  program: unknown;
  loop: Omit<LoopOptions, 'shouldStop' | 'onStep' | 'onCheckpoint'>;
  /** SharedArrayBuffer(4): 1 stops after the step in flight; 2 (suspend) also checkpoints the state reached. */
  stopFlag: SharedArrayBuffer;
}

export type WorkerMessage =
  | { type: 'phase'; phase: 'compiling' | 'training' }
  | { type: 'step'; metrics: StepMetrics }
  | { type: 'checkpoint'; checkpoint: CheckpointWritten }
  | { type: 'done'; steps: number; stopped: boolean }
  | { type: 'error'; error: ThreadFailure };
