import { JobErrorCodes, JobTooLargeError } from '@npo/contracts';
import type { MemoryCheck, MemoryCheckOptions } from './memory-check.ts';
import { ThreadError, type ThreadFailure } from './thread-error.ts';
import { runInThread } from './thread-task.ts';
import type check from './memory-check-worker.ts';

/** The check's refusal as the JobTooLargeError it was (code, message, estimate and budget); anything else as a ThreadError. */
function fromThread(f: ThreadFailure): Error {
  if (f.code === JobErrorCodes.jobTooLarge) return new JobTooLargeError(f.message, f.details as ConstructorParameters<typeof JobTooLargeError>[1]);
  return new ThreadError(f, 'memory_check_failed');
}

/**
 * checkJobMemory in a worker thread (thread-task.ts): building a full-size step graph (up to once per memory plan)
 * is seconds of CPU. It does not look at `signal`: an abort rejects once the check is over.
 */
export function checkJobMemoryInThread(o: MemoryCheckOptions & { signal?: AbortSignal }): Promise<MemoryCheck> {
  const { signal, ...options } = o;
  return runInThread<typeof check>(new URL('./memory-check-worker.ts', import.meta.url), options, { label: 'memory-check', fromFailure: fromThread, signal });
}
