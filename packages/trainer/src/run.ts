import type { CheckpointWritten, LoopOptions, StepMetrics } from './loop.ts';
import type { ProgramSpec } from './programs/index.ts';
import { ThreadError, type ThreadFailure } from './thread-error.ts';
import { runInThread } from './thread-task.ts';
import type train from './training-worker.ts';
import type { TrainingInit, TrainingProgress } from './training-worker.ts';

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
export class TrainingError extends ThreadError {
  constructor(f: ThreadFailure) {
    super(f, 'training_failed');
  }
}

/**
 * Runs a program's step loop in a worker thread (thread-task.ts); resolves when it finished or stopped on `signal`.
 * A cancel or suspend is cooperative (a flag read between steps), not the thread's termination: a suspended run
 * checkpoints first, and a cancelled one ends with its step in flight.
 */
export async function runTraining(
  program: ProgramSpec, loop: TrainingInit['loop'], cb: RunCallbacks = {},
): Promise<{ steps: number; stopped: boolean; lastCheckpoint: CheckpointWritten | null }> {
  const stopFlag = new SharedArrayBuffer(4);
  const stop = () => Atomics.store(new Int32Array(stopFlag), 0, 1);
  // a cancel (1) wins over a suspend (2): a cancelled job needs no checkpoint
  const suspend = () => Atomics.compareExchange(new Int32Array(stopFlag), 0, 0, 2);
  if (cb.signal?.aborted) stop();
  cb.signal?.addEventListener('abort', stop, { once: true });
  if (cb.suspend?.aborted) suspend();
  cb.suspend?.addEventListener('abort', suspend, { once: true });
  // the callbacks run in the order the thread reported, one at a time; a failing one stops the run and is its error
  let chain: Promise<void> = Promise.resolve();
  let lastCheckpoint: CheckpointWritten | null = null;
  let failure: unknown = null;
  const enqueue = (fn: () => void | Promise<void>) => {
    chain = chain.then(fn).catch((e) => {
      failure ??= e;
      stop();
    });
  };
  const onProgress = (m: TrainingProgress) => {
    if (m.type === 'phase') enqueue(() => cb.onPhase?.(m.phase));
    else if (m.type === 'step') enqueue(() => cb.onStep?.(m.metrics));
    else
      enqueue(async () => {
        await cb.onCheckpoint?.(m.checkpoint);
        lastCheckpoint = m.checkpoint;
      });
  };
  try {
    const finished = await runInThread<typeof train>(new URL('./training-worker.ts', import.meta.url), { program, loop, stopFlag }, {
      label: 'training', fromFailure: (f) => new TrainingError(f), onProgress,
    }).catch((e) => {
      failure ??= e;
      return null;
    });
    await chain;
    if (failure || !finished) throw failure;
    return { ...finished, lastCheckpoint };
  } finally {
    cb.signal?.removeEventListener('abort', stop);
    cb.suspend?.removeEventListener('abort', suspend);
  }
}

export type { LoopOptions, StepMetrics, CheckpointWritten };
