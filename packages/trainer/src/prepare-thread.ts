import type { EncodeDatasetOptions } from './encode-dataset.ts';
import { ThreadError, type ThreadFailure } from './thread-error.ts';
import { runInThread } from './thread-task.ts';
import type prepare from './prepare-worker.ts';

/** An error raised in the preparation thread (ThreadError: its code, status and retryability carried over). */
export class PreparationThreadError extends ThreadError {
  constructor(f: ThreadFailure) {
    super(f, 'preparation_failed');
  }
}

/**
 * encodeDatasetForModel in a worker thread (thread-task.ts): tokenizing, text encoding and VAE encoding are CPU-bound
 * for minutes. `signal` stops it between batches; the prepared folder is resumable, so a later run continues from the
 * shards already written.
 */
export function encodeDatasetInThread(o: EncodeDatasetOptions): Promise<{ preparedDir: string; pairs: number; cached: boolean }> {
  const { signal, onProgress, ...options } = o;
  return runInThread<typeof prepare>(new URL('./prepare-worker.ts', import.meta.url), options, {
    label: 'preparation', fromFailure: (f) => new PreparationThreadError(f), onProgress, signal,
  });
}
