import { Worker } from 'node:worker_threads';
import { threadFailure, type ThreadFailure } from './thread-error.ts';

/**
 * CPU-bound work the worker service must not do on its main thread (preparation, the memory check, training,
 * sampling): onnxruntime's session.run and graph building block their thread for seconds at full size, and on the
 * main thread that stops BullMQ's lock renewal (the stalled check would hand the job to another worker, which runs
 * it twice) and the cancel messages from being heard. A task is a module whose default export is a ThreadTask; it
 * runs in its own thread, posting progress, and its result or failure comes back here.
 *
 * `signal` is aborted when the caller's is: a task stops at its next check. Cooperatively, never by terminating the
 * thread: a thread terminated inside session.run aborts the whole process (onnxruntime-node throws a C++ exception
 * into a dying environment), so cancelling a job mid-step would take the worker and all its jobs down.
 */
export type ThreadTask<D, R, P = never> = (data: D, progress: (p: P) => void, signal: AbortSignal) => Promise<R> | R;

/** What a task thread is started with: the task module's URL and its (structured-cloneable) input. */
export interface ThreadData { module: string; data: unknown }

/** Thread → caller. */
export type ThreadMessage<R = unknown, P = unknown> =
  | { type: 'progress'; progress: P }
  | { type: 'done'; result: R }
  | { type: 'error'; error: ThreadFailure };

/** Caller → thread. */
export type ThreadControl = { type: 'abort' };

type AnyTask = ThreadTask<any, any, any>;
type DataOf<T extends AnyTask> = Parameters<T>[0];
type ResultOf<T extends AnyTask> = Awaited<ReturnType<T>>;
type ProgressOf<T extends AnyTask> = Parameters<Parameters<T>[1]>[0];

export interface ThreadCall<P> {
  /** Names the thread in the error of a thread that exits without a result ("the preparation thread exited …"). */
  label: string;
  /** The NpoError a failure in the thread becomes: its class did not cross, its code, status, retryability and details did. */
  fromFailure: (f: ThreadFailure) => Error;
  onProgress?: (p: P) => void;
  /**
   * Aborts the task's signal. The promise rejects with this signal's reason once the thread is gone (after the session
   * run in flight, at most), so a cancelled task writes nothing after its caller has cleaned up.
   */
  signal?: AbortSignal;
}

/** Runs the task module `module` (typed by `T`, its default export) on `data` in a new worker thread. */
export function runInThread<T extends AnyTask>(module: URL, data: DataOf<T>, call: ThreadCall<ProgressOf<T>>): Promise<ResultOf<T>> {
  const { signal } = call;
  if (signal?.aborted) return Promise.reject(signal.reason);
  const worker = new Worker(new URL('./thread-entry.mjs', import.meta.url), { workerData: { module: module.href, data } satisfies ThreadData });
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', abort);
      // the task has returned or thrown (or the thread died): nothing runs in onnxruntime, so ending the thread is safe.
      // Settled once it has exited: its sessions and buffers are freed and it writes no more files.
      const end = () => (signal?.aborted ? reject(signal.reason) : outcome());
      void worker.terminate().then(end, end);
    };
    const abort = () => worker.postMessage({ type: 'abort' } satisfies ThreadControl);
    signal?.addEventListener('abort', abort, { once: true });
    worker.on('message', (m: ThreadMessage<ResultOf<T>, ProgressOf<T>>) => {
      if (settled) return;
      if (m.type === 'progress') call.onProgress?.(m.progress);
      else if (m.type === 'done') settle(() => resolve(m.result));
      else settle(() => reject(call.fromFailure(m.error)));
    });
    // an error the host could not catch (the task module failed to load, an uncaught exception)
    worker.on('error', (e) => settle(() => reject(call.fromFailure(threadFailure(e)))));
    worker.on('exit', (code) =>
      settle(() => reject(call.fromFailure({ name: 'ThreadError', message: `the ${call.label} thread exited (code ${code}) without a result`, retryable: true }))));
  });
}
