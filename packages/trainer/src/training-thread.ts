import { parentPort, workerData } from 'node:worker_threads';
import { runLoop } from './loop.ts';
import { createProgram, type ProgramSpec } from './programs/index.ts';
import { threadFailure, type WorkerMessage, type WorkerInit } from './protocol.ts';
import { resetPeakRss } from './peak-rss.ts';

/** Training runs here, off the main event loop: session.run blocks its thread for the whole step. */
const init = workerData as WorkerInit;
const stop = new Int32Array(init.stopFlag);
const post = (m: WorkerMessage) => parentPort!.postMessage(m);

try {
  // the steps' peak_rss_mb covers this run (compiling, sessions, steps), not what the process did before it
  resetPeakRss();
  post({ type: 'phase', phase: 'compiling' });
  const program = await createProgram(init.program as ProgramSpec);
  post({ type: 'phase', phase: 'training' });
  const result = await runLoop(program, {
    ...init.loop,
    shouldStop: () => Atomics.load(stop, 0) !== 0,
    suspendRequested: () => Atomics.load(stop, 0) === 2,
    onStep: (metrics) => post({ type: 'step', metrics }),
    onCheckpoint: (checkpoint) => post({ type: 'checkpoint', checkpoint }),
  });
  post({ type: 'done', steps: result.steps, stopped: result.stopped });
} catch (e) {
  // the class does not cross the thread boundary: its code and whether a retry can help do
  post({ type: 'error', error: threadFailure(e) });
}
