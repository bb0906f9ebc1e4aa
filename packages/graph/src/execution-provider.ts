import { describeCudaProviderProblems, findCudaProviderProblems } from './cuda/cuda-provider.ts';

export const EXECUTION_PROVIDERS = ['cpu', 'cuda'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

/** `EXECUTION_PROVIDER` for the command-line tools (verify, bench); the services read it through their config. */
export function executionProviderFromEnv(env: NodeJS.ProcessEnv = process.env): ExecutionProvider {
  const raw = env.EXECUTION_PROVIDER ?? 'cpu';
  if (!(EXECUTION_PROVIDERS as readonly string[]).includes(raw)) throw new ExecutionProviderError(`EXECUTION_PROVIDER must be one of ${EXECUTION_PROVIDERS.join(', ')} (got ${JSON.stringify(raw)})`);
  return raw as ExecutionProvider;
}

export class ExecutionProviderError extends Error {
  readonly code = 'execution_provider_unavailable';
  constructor(message: string) {
    super(message);
    this.name = 'ExecutionProviderError';
  }
}

/**
 * Fails now, naming each library that is missing and where it was looked for, if sessions on `provider` cannot be
 * created in this process. A GPU worker calls this at start, before it takes a job.
 */
export function assertExecutionProviderAvailable(provider: ExecutionProvider): void {
  if (provider === 'cpu') return;
  const problems = findCudaProviderProblems();
  if (problems.length) throw new ExecutionProviderError(describeCudaProviderProblems(problems));
}
