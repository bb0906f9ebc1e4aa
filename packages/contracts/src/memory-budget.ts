// How much memory one training process may plan for: the worker's MEMORY_BUDGET_MB, by default the machine's memory
// less a margin for the operating system, the worker's own event loop and what the estimate does not see. The step
// graph's checkpointing is chosen to fit it, and a job that cannot fit even fully checkpointed is refused
// (packages/diffusion/src/memory/step-memory.ts, JobTooLargeError).

/** The margin: an eighth of the machine, at least 2 GiB (a 24 GiB machine plans for 21,504 MB). */
export function defaultMemoryBudgetMb(totalMemoryBytes: number): number {
  const totalMb = Math.floor(totalMemoryBytes / 2 ** 20);
  return Math.max(256, totalMb - Math.max(2048, Math.ceil(totalMb / 8)));
}
