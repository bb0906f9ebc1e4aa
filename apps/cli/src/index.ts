export { run, helpText, DEFAULT_API_URL } from './run.ts';
export { processIo, type Io, type Output } from './io.ts';
export { ApiClient } from './client.ts';
export { ApiError, CliError, UsageError } from './errors.ts';
export { COMMANDS } from './commands/index.ts';
