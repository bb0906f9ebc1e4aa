// The two ways a command fails. Exit codes are part of the interface: 1 for a failure the API (or the file
// system, or the network) reported, 2 for a command line that could not be understood.

/** A failure with a stable code, printed as `error <code>: <message>` and its details; exit 1. */
export class CliError extends Error {
  constructor(readonly code: string, message: string, readonly details: Record<string, unknown> = {}, readonly status?: number) {
    super(message);
    this.name = 'CliError';
  }
}

/** An error response of the API ({error: {code, message, details}}), with its HTTP status. */
export class ApiError extends CliError {
  constructor(code: string, message: string, details: Record<string, unknown>, status: number) {
    super(code, message, details, status);
    this.name = 'ApiError';
  }
}

/** A command line that cannot run: printed with the command's usage line; exit 2. */
export class UsageError extends Error {
  constructor(message: string, readonly usage: string) {
    super(message);
    this.name = 'UsageError';
  }
}
