import { Worker } from 'node:worker_threads';
import { JobErrorCodes, JobTooLargeError } from '@npo/contracts';
import type { MemoryCheck, MemoryCheckOptions } from './memory-check.ts';
import { ThreadError, type ThreadFailure } from './protocol.ts';

/** What the memory-check thread posts back. */
export type MemoryCheckMessage = { type: 'done'; result: MemoryCheck } | { type: 'error'; error: ThreadFailure };

/** The check's refusal as the JobTooLargeError it was (code, message, estimate and budget); anything else as a ThreadError. */
function fromThread(f: ThreadFailure): Error {
  if (f.code === JobErrorCodes.jobTooLarge) return new JobTooLargeError(f.message, f.details as ConstructorParameters<typeof JobTooLargeError>[1]);
  return new ThreadError(f, 'memory_check_failed');
}

/**
 * checkJobMemory in a worker thread: building a full-size step graph (up to once per memory plan) is seconds of
 * CPU, and on the worker's main thread it would stop BullMQ's lock renewal and the cancel messages from being
 * heard, as preparation and training would (prepare-thread.ts, run.ts). `signal` terminates the thread.
 */
export function checkJobMemoryInThread(o: MemoryCheckOptions & { signal?: AbortSignal }): Promise<MemoryCheck> {
  const { signal, ...options } = o;
  signal?.throwIfAborted();
  const worker = new Worker(new URL('./memory-check-entry.mjs', import.meta.url), { workerData: options });
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', stop);
      fn();
    };
    const stop = () => {
      settle(() => reject(signal?.reason ?? new Error('memory check aborted')));
      void worker.terminate();
    };
    signal?.addEventListener('abort', stop, { once: true });
    worker.on('message', (m: MemoryCheckMessage) => settle(() => (m.type === 'done' ? resolve(m.result) : reject(fromThread(m.error)))));
    worker.on('error', (e) => settle(() => reject(e)));
    worker.on('exit', (code) => settle(() => reject(new ThreadError({ name: 'ThreadError', message: `the memory-check thread exited (code ${code}) without a result`, retryable: true }, 'memory_check_failed'))));
  });
}
