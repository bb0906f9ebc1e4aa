// The one error hierarchy. Every error raised on purpose is an NpoError: a stable string `code` (clients and the
// worker switch on it), the HTTP `status` the API answers with, and `retryable` — whether the same request or job
// can succeed when tried again (an outage) or not (bad input: the worker fails such a job at once, without retries).
// `details` carries machine-readable context (the offending field, limits, ...).
export type ErrorDetails = Record<string, unknown>;

export interface ErrorBody {
  error: { code: string; message: string; details: ErrorDetails };
}

export abstract class NpoError extends Error {
  abstract readonly retryable: boolean;
  readonly code: string;
  readonly status: number;
  readonly details: ErrorDetails;
  constructor(status: number, code: string, message: string, details: ErrorDetails = {}) {
    super(message);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.details = details;
  }
  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

/** Input that cannot work as given (a request, a dataset, a model folder, a setting): trying again cannot help. */
export class InputError extends NpoError {
  readonly retryable = false;
  constructor(message: string, details: ErrorDetails = {}, code = 'validation_error', status = 400) {
    super(status, code, message, details);
  }
}

/** A dependency that failed for now (storage, queue, database, a worker that went away): worth trying again. */
export class TransientError extends NpoError {
  readonly retryable = true;
  constructor(message: string, details: ErrorDetails = {}, code = 'unavailable', status = 503) {
    super(status, code, message, details);
  }
}

export class ValidationError extends InputError {
  constructor(message: string, details: ErrorDetails = {}, code = 'validation_error') {
    super(message, details, code, 400);
  }
}
export class UnauthorizedError extends InputError {
  constructor(message = 'missing or invalid API key', code = 'unauthorized') {
    super(message, {}, code, 401);
  }
}
export class NotFoundError extends InputError {
  constructor(resource: string, id: string) {
    super(`${resource} ${id} not found`, { resource, id }, 'not_found', 404);
  }
}
export class ConflictError extends InputError {
  constructor(message: string, code = 'conflict', details: ErrorDetails = {}) {
    super(message, details, code, 409);
  }
}
export class PayloadTooLargeError extends InputError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details, 'payload_too_large', 413);
  }
}
export class UnsupportedMediaTypeError extends InputError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details, 'unsupported_media_type', 415);
  }
}
/** Too many requests for now: the same request succeeds after the window. */
export class RateLimitedError extends TransientError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details, 'rate_limited', 429);
  }
}

/** A backing service (Redis, Postgres, S3) is unreachable: the API answers at once instead of waiting for it. */
export class DependencyUnavailableError extends TransientError {
  constructor(dependency: string, retryAfterSeconds = 5) {
    super(`${dependency} is unavailable; retry in a few seconds`, { dependency, retry_after: retryAfterSeconds }, 'unavailable', 503);
  }
}

/** A folder to import holds more files or bytes than a model folder may (MODEL_FOLDER_LIMITS): listing stopped there. */
export class ImportTooLargeError extends InputError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details, 'import_too_large', 413);
  }
}
/** An object changed between being listed and being read: the snapshot is not consistent, so it is read again. */
export class ObjectChangedError extends TransientError {
  constructor(key: string) {
    super(`s3 object ${key} changed while it was being read`, { key }, 'object_changed', 409);
  }
}

/**
 * Error codes of a failed job (`job.error.code`) that belong to no other error: the worker sets the first four
 * itself (a missing dataset or model, an unrecoverable error without a code, the last retry of an outage), and
 * JobTooLargeError raises the fifth. Any other NpoError that fails a job ends it with that error's own code.
 */
export const JobErrorCodes = {
  datasetInvalid: 'dataset_invalid',
  modelInvalid: 'model_invalid',
  badInput: 'bad_input',
  trainingFailed: 'training_failed',
  jobTooLarge: 'job_too_large',
  /** The job's worker process died (out of memory, native crash) repeatedly at the same place; the message names it. */
  workerCrashed: 'worker_crashed',
} as const;

/**
 * Error codes of a failed sample set (`sample_set.error.code`) that belong to no other error: rendering failed (the
 * trainer's sampling thread raises it, the worker writes it on sets whose rendering threw). A preview set whose
 * renderer died is `worker_crashed` (JobErrorCodes).
 */
export const SampleErrorCodes = {
  samplingFailed: 'sampling_failed',
} as const;

/**
 * A training job whose one step needs more memory than the worker's budget even with every block checkpointed:
 * it can never run there as configured. The message gives the estimate, the budget and what to lower.
 */
export class JobTooLargeError extends InputError {
  constructor(message: string, details: { estimate_mb: number; budget_mb: number } & ErrorDetails) {
    super(message, details, JobErrorCodes.jobTooLarge, 400);
  }
}

/** Whether trying again can help: NpoErrors say so; anything else (a crash, an outage we did not name) may pass. */
export function isRetryable(err: unknown): boolean {
  return err instanceof NpoError ? err.retryable : true;
}
