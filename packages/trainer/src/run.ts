import { Worker } from 'node:worker_threads';
import { NpoError } from '@npo/contracts';
import type { CheckpointWritten, LoopOptions, StepMetrics } from './loop.ts';
import type { ProgramSpec } from './programs/index.ts';
import type { WorkerInit, WorkerMessage } from './protocol.ts';

export interface RunCallbacks {
  signal?: AbortSignal;
  /** Stop after the step in flight and checkpoint it (not a cancel: the job goes on elsewhere). */
  suspend?: AbortSignal;
  onPhase?: (p: 'compiling' | 'training') => void | Promise<void>;
  onStep?: (m: StepMetrics) => void | Promise<void>;
  /** Awaited in order; the run finishes only after every checkpoint has been handed over. */
  onCheckpoint?: (c: CheckpointWritten) => Promise<void>;
}

/** A failure inside the training thread, carrying the original error's code and retryability across the thread boundary. */
export class TrainingError extends NpoError {
  constructor(message: string, code: string, readonly retryable: boolean, readonly workerStack?: string) {
    super(retryable ? 503 : 422, code, message);
  }
}

/** Runs a program's step loop in a worker thread; resolves when it finished or stopped on `signal`. */
export function runTraining(
  program: ProgramSpec, loop: WorkerInit['loop'], cb: RunCallbacks = {},
): Promise<{ steps: number; stopped: boolean; lastCheckpoint: CheckpointWritten | null }> {
  const stopFlag = new SharedArrayBuffer(4);
  const stop = () => Atomics.store(new Int32Array(stopFlag), 0, 1);
  // a cancel (1) wins over a suspend (2): a cancelled job needs no checkpoint
  const suspend = () => Atomics.compareExchange(new Int32Array(stopFlag), 0, 0, 2);
  if (cb.signal?.aborted) stop();
  cb.signal?.addEventListener('abort', stop, { once: true });
  if (cb.suspend?.aborted) suspend();
  cb.suspend?.addEventListener('abort', suspend, { once: true });
  const worker = new Worker(new URL('./training-thread-entry.mjs', import.meta.url), { workerData: { program, loop, stopFlag } satisfies WorkerInit });
  let chain: Promise<void> = Promise.resolve();
  let lastCheckpoint: CheckpointWritten | null = null;
  let failure: unknown = null;
  const enqueue = (fn: () => void | Promise<void>) => {
    chain = chain.then(fn).catch((e) => {
      failure ??= e;
      stop();
    });
  };
  return new Promise((resolve, reject) => {
    let finished: { steps: number; stopped: boolean } | null = null;
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'phase') enqueue(() => cb.onPhase?.(m.phase));
      else if (m.type === 'step') enqueue(() => cb.onStep?.(m.metrics));
      else if (m.type === 'checkpoint')
        enqueue(async () => {
          await cb.onCheckpoint?.(m.checkpoint);
          lastCheckpoint = m.checkpoint;
        });
      else if (m.type === 'done') finished = { steps: m.steps, stopped: m.stopped };
      else failure ??= new TrainingError(m.error.message, m.error.code ?? 'training_failed', m.error.retryable, m.error.stack);
    });
    worker.on('error', (e) => (failure ??= e));
    worker.on('exit', async () => {
      cb.signal?.removeEventListener('abort', stop);
      cb.suspend?.removeEventListener('abort', suspend);
      await chain;
      if (failure) reject(failure);
      else if (!finished) reject(new TrainingError('the training worker exited without finishing', 'training_failed', true));
      else resolve({ ...finished, lastCheckpoint });
    });
  });
}

export type { LoopOptions, StepMetrics, CheckpointWritten };
