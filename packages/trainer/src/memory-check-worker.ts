import { parentPort, workerData } from 'node:worker_threads';
import { checkJobMemory, type MemoryCheckOptions } from './memory-check.ts';
import { threadFailure } from './protocol.ts';
import type { MemoryCheckMessage } from './memory-check-thread.ts';

/** The memory check runs here, off the worker's main event loop (memory-check-thread.ts). */
const post = (m: MemoryCheckMessage) => parentPort!.postMessage(m);
try {
  post({ type: 'done', result: checkJobMemory(workerData as MemoryCheckOptions) });
} catch (e) {
  // the class does not cross the thread boundary: its name, code, retryability and details (the estimate) do
  post({ type: 'error', error: threadFailure(e) });
}
