import { parentPort, workerData } from 'node:worker_threads';
import { threadFailure } from './thread-error.ts';
import type { ThreadControl, ThreadData, ThreadMessage, ThreadTask } from './thread-task.ts';

/** Inside a worker thread (thread-task.ts): runs the task module's default export and posts its progress and outcome. */
const { module, data } = workerData as ThreadData;
const post = (m: ThreadMessage) => parentPort!.postMessage(m);
// heard between session runs: onnxruntime-node runs each one from a setImmediate callback, so the loop turns in between
const controller = new AbortController();
const onControl = (m: ThreadControl) => {
  if (m.type === 'abort') controller.abort(new Error('aborted by the caller'));
};
parentPort!.on('message', onControl);
try {
  const task = (await import(module)).default as ThreadTask<unknown, unknown, unknown>;
  controller.signal.throwIfAborted();
  post({ type: 'done', result: await task(data, (progress) => post({ type: 'progress', progress }), controller.signal) });
} catch (e) {
  // the class does not cross the thread boundary: its name, code, status, retryability and details do
  post({ type: 'error', error: threadFailure(e) });
} finally {
  parentPort!.off('message', onControl);
}
