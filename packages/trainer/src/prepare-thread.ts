import { Worker } from 'node:worker_threads';
import type { EncodeDatasetOptions } from './encode-dataset.ts';
import { ThreadError, type ThreadFailure } from './protocol.ts';

/** What the preparation thread posts back. */
export type PrepareMessage =
  | { type: 'progress'; progress: Parameters<NonNullable<EncodeDatasetOptions['onProgress']>>[0] }
  | { type: 'done'; result: { preparedDir: string; pairs: number; cached: boolean } }
  | { type: 'error'; error: ThreadFailure };

/** An error raised in the preparation thread (ThreadError: its code, status and retryability carried over). */
export class PreparationThreadError extends ThreadError {
  constructor(f: ThreadFailure) {
    super(f, 'preparation_failed');
  }
}

/**
 * encodeDatasetForModel in a worker thread: tokenizing, text encoding and VAE encoding are CPU-bound for minutes, and on
 * the worker's main thread they would stop BullMQ's lock renewal (the stalled check would hand the job to another
 * worker) and the cancel messages from being heard. `signal` terminates the thread; the prepared folder is
 * resumable, so a later run continues from the shards already written.
 */
export function encodeDatasetInThread(o: EncodeDatasetOptions): Promise<{ preparedDir: string; pairs: number; cached: boolean }> {
  const { signal, onProgress, ...options } = o;
  signal?.throwIfAborted();
  const worker = new Worker(new URL('./prepare-entry.mjs', import.meta.url), { workerData: options });
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', stop);
      fn();
    };
    const stop = () => {
      settle(() => reject(signal?.reason ?? new Error('preparation aborted')));
      void worker.terminate();
    };
    signal?.addEventListener('abort', stop, { once: true });
    worker.on('message', (m: PrepareMessage) => {
      if (m.type === 'progress') onProgress?.(m.progress);
      else if (m.type === 'done') settle(() => resolve(m.result));
      else settle(() => reject(new PreparationThreadError(m.error)));
    });
    worker.on('error', (e) => settle(() => reject(e)));
    worker.on('exit', (code) => settle(() => reject(new PreparationThreadError({ name: 'PreparationThreadError', message: `the preparation thread exited (code ${code}) without a result`, code: 'preparation_failed', retryable: true }))));
  });
}
