import { runLoop, type CheckpointWritten, type LoopOptions, type StepMetrics } from './loop.ts';
import { createProgram, type ProgramSpec } from './programs/index.ts';
import { resetPeakRss } from './peak-rss.ts';
import type { ThreadTask } from './thread-task.ts';

export interface TrainingInit {
  program: ProgramSpec;
  loop: Omit<LoopOptions, 'shouldStop' | 'suspendRequested' | 'onStep' | 'onCheckpoint'>;
  /** SharedArrayBuffer(4): 1 stops after the step in flight; 2 (suspend) also checkpoints the state reached. */
  stopFlag: SharedArrayBuffer;
}

/** What the training thread reports while it runs, in order. */
export type TrainingProgress =
  | { type: 'phase'; phase: 'compiling' | 'training' }
  | { type: 'step'; metrics: StepMetrics }
  | { type: 'checkpoint'; checkpoint: CheckpointWritten };

/**
 * Training as a thread task (run.ts): session.run blocks its thread for the whole step. It stops cooperatively, through
 * the shared flag read between steps, so that a suspend can checkpoint the state it reached.
 */
const train: ThreadTask<TrainingInit, { steps: number; stopped: boolean }, TrainingProgress> = async (init, post) => {
  const stop = new Int32Array(init.stopFlag);
  // the steps' peak_rss_mb covers this run (compiling, sessions, steps), not what the process did before it
  resetPeakRss();
  post({ type: 'phase', phase: 'compiling' });
  const program = await createProgram(init.program);
  post({ type: 'phase', phase: 'training' });
  const result = await runLoop(program, {
    ...init.loop,
    shouldStop: () => Atomics.load(stop, 0) !== 0,
    suspendRequested: () => Atomics.load(stop, 0) === 2,
    onStep: (metrics) => post({ type: 'step', metrics }),
    onCheckpoint: (checkpoint) => post({ type: 'checkpoint', checkpoint }),
  });
  return { steps: result.steps, stopped: result.stopped };
};
export default train;
