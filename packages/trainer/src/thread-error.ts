import { isRetryable, NpoError, type ErrorDetails } from '@npo/contracts';

/**
 * An error as it crosses a thread boundary (thread-task.ts): the class does not, its name,
 * code, status, retryability and details do.
 */
export interface ThreadFailure { name: string; message: string; code?: string; status?: number; retryable: boolean; stack?: string; details?: ErrorDetails }

export function threadFailure(e: unknown): ThreadFailure {
  const err = e as Error & { code?: unknown; status?: unknown; details?: unknown };
  return {
    name: err?.name ?? 'Error',
    message: err?.message ?? String(e),
    code: typeof err?.code === 'string' ? err.code : undefined,
    status: typeof err?.status === 'number' ? err.status : undefined,
    retryable: isRetryable(e),
    stack: err?.stack,
    ...(err?.details && typeof err.details === 'object' ? { details: err.details as ErrorDetails } : {}),
  };
}

/**
 * An error raised in a worker thread, with its name, stable code (`fallbackCode` when it had none), status,
 * retryability and details carried over, so the worker's retry decision (isRetryable) reads it as it would the
 * original: bad input fails the job at once.
 */
export class ThreadError extends NpoError {
  readonly retryable: boolean;
  readonly workerStack?: string;
  constructor(f: ThreadFailure, fallbackCode: string) {
    super(f.status ?? (f.retryable ? 503 : 422), f.code ?? fallbackCode, f.message, f.details);
    this.retryable = f.retryable;
    this.workerStack = f.stack;
    this.name = f.name;
  }
}
