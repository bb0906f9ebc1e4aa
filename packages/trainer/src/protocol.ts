import type { CheckpointWritten, LoopOptions, StepMetrics } from './loop.ts';

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
  | { type: 'error'; error: { name: string; message: string; code?: string; retryable: boolean; stack?: string } };
