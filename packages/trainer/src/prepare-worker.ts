import { parentPort, workerData } from 'node:worker_threads';
import { encodeDatasetForModel, type EncodeDatasetOptions } from './encode-dataset.ts';
import { threadFailure } from './protocol.ts';
import type { PrepareMessage } from './prepare-thread.ts';

/** Preparation runs here, off the worker's main event loop (prepare-thread.ts). */
const post = (m: PrepareMessage) => parentPort!.postMessage(m);
try {
  const result = await encodeDatasetForModel({ ...(workerData as EncodeDatasetOptions), onProgress: (progress) => post({ type: 'progress', progress }) });
  post({ type: 'done', result });
} catch (e) {
  // the class does not cross the thread boundary: its name, code and whether a retry can help do
  post({ type: 'error', error: threadFailure(e) });
}
