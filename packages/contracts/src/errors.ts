// The small set of named errors the API answers with. Each has a stable string `code` (clients switch on it)
// and an HTTP status; `details` carries machine-readable context (the offending field, limits, ...).
export type ErrorDetails = Record<string, unknown>;

export class ApiError extends Error {
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

export interface ErrorBody {
  error: { code: string; message: string; details: ErrorDetails };
}

export class ValidationError extends ApiError {
  constructor(message: string, details: ErrorDetails = {}, code = 'validation_error') {
    super(400, code, message, details);
  }
}
export class UnauthorizedError extends ApiError {
  constructor(message = 'missing or invalid API key', code = 'unauthorized') {
    super(401, code, message);
  }
}
export class NotFoundError extends ApiError {
  constructor(resource: string, id: string) {
    super(404, 'not_found', `${resource} ${id} not found`, { resource, id });
  }
}
export class ConflictError extends ApiError {
  constructor(message: string, code = 'conflict', details: ErrorDetails = {}) {
    super(409, code, message, details);
  }
}
export class PayloadTooLargeError extends ApiError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(413, 'payload_too_large', message, details);
  }
}
export class UnsupportedMediaTypeError extends ApiError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(415, 'unsupported_media_type', message, details);
  }
}
export class RateLimitedError extends ApiError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(429, 'rate_limited', message, details);
  }
}

/** Error codes a job can end with (`job.error.code`). */
export const JobErrorCodes = {
  datasetInvalid: 'dataset_invalid',
  modelInvalid: 'model_invalid',
  badInput: 'bad_input',
  trainingFailed: 'training_failed',
} as const;
