import { describeCudaProviderProblems, findCudaProviderProblems } from './cuda/cuda-provider.ts';

export type ExecutionProvider = 'cpu' | 'cuda';

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
