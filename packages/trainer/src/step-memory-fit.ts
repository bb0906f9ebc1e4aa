import { totalmem } from 'node:os';
import { defaultMemoryBudgetMb, JobTooLargeError, type Hyperparameters } from '@npo/contracts';
import { chooseStepMemoryPlan, estimateStepMemory, type StepMemoryChoice, type StepSpecForMemory } from '@npo/diffusion';

export const mb = (bytes: number) => Math.ceil(bytes / 2 ** 20);

/** The budget a job is sized against: the worker's MEMORY_BUDGET_MB when given, else this machine's less a margin. */
export function memoryBudgetMbOr(configured: number | undefined): number {
  return configured ?? defaultMemoryBudgetMb(totalmem());
}

/**
 * The step graph that fits `budgetMb` with the least recomputation (chooseStepMemoryPlan), or a JobTooLargeError
 * before anything is compiled — the one decision whether a job fits, made by the worker before preparation
 * (memory-check.ts) and again by the program before compiling: the estimate, the budget, and the setting to lower — the largest batch_pairs that
 * fits (with gradient_accumulation_steps keeping the effective batch), or the resolution when one pair is too many.
 */
export function fitStepToBudget(spec: StepSpecForMemory, budgetMb: number, hp: Pick<Hyperparameters, 'batch_pairs' | 'gradient_accumulation_steps' | 'resolution'>): StepMemoryChoice {
  const choice = chooseStepMemoryPlan(spec, budgetMb * 2 ** 20);
  if (choice.fits) return choice;
  const estimateMb = mb(choice.estimate.totalBytes);
  const P = hp.batch_pairs;
  const effective = P * (hp.gradient_accumulation_steps ?? 1);
  // halve the micro-batch until it fits (each try builds the fully checkpointed graph: seconds at full size)
  let fitting: number | null = null;
  for (let p = Math.floor(P / 2); p >= 1; p = p === 1 ? 0 : Math.max(1, Math.floor(p / 2))) {
    if (estimateStepMemory({ ...spec, pairs: p }, 'blocks').totalBytes <= budgetMb * 2 ** 20) {
      fitting = p;
      break;
    }
  }
  const head = `one training step needs an estimated ${estimateMb} MB even with every block checkpointed; the worker's memory budget is ${budgetMb} MB (MEMORY_BUDGET_MB)`;
  const advice = fitting !== null
    ? `lower batch_pairs from ${P} to ${fitting} and set gradient_accumulation_steps to ${Math.ceil(effective / fitting)} to keep ${effective} pairs per optimizer step`
    : `even batch_pairs 1 does not fit: lower resolution (now ${hp.resolution})`;
  throw new JobTooLargeError(`${head}: ${advice}`, {
    estimate_mb: estimateMb, budget_mb: budgetMb, batch_pairs: P, resolution: hp.resolution,
    ...(fitting !== null ? { suggested_batch_pairs: fitting, suggested_gradient_accumulation_steps: Math.ceil(effective / fitting) } : {}),
  });
}
