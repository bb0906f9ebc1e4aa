import { WeightSource, type PreferenceMethod, type StepMemoryPlanName } from '@npo/diffusion';
import type { Hyperparameters } from '@npo/contracts';
import { loadModelFolder } from './model-folder.ts';
import { preparedShapes } from './prepared-shapes.ts';
import { preferenceStepSpec } from './preference-step-spec.ts';
import { fitStepToBudget, mb, memoryBudgetMbOr } from './step-memory-fit.ts';

export interface MemoryCheckOptions {
  modelDir: string;
  method: PreferenceMethod;
  /** A complete set, as a job stores it. */
  hyperparameters: Hyperparameters;
  /** The worker's MEMORY_BUDGET_MB; default: this machine's less a margin. */
  memoryBudgetMb?: number;
}

/** A job that fits: the memory plan its step will be compiled with and that plan's estimate. */
export interface MemoryCheck {
  plan: StepMemoryPlanName;
  estimate_mb: number;
  budget_mb: number;
}

/**
 * Whether a preference job's training step fits the memory budget, judged from the UNet's config and weights header,
 * the folder's VAE and tokenizer configs and the hyperparameters — nothing encoded, nothing compiled — so a job that
 * can never run is refused before its dataset is prepared. Throws the JobTooLargeError of fitStepToBudget (the one
 * owner of the decision; the program makes it again on the prepared shapes before compiling). Builds the full step
 * graph, up to once per memory plan: seconds of CPU at full size (checkJobMemoryInThread keeps it off an event loop).
 */
export function checkJobMemory(o: MemoryCheckOptions): MemoryCheck {
  const model = loadModelFolder(o.modelDir);
  const hp = o.hyperparameters;
  const spec = preferenceStepSpec({
    // the header only: names, shapes and stored dtypes, as the compiled step will read them
    model, weights: WeightSource.fromSafetensors(model.unetWeights), hp, method: o.method, ...preparedShapes(model, hp.resolution),
  });
  const budgetMb = memoryBudgetMbOr(o.memoryBudgetMb);
  const choice = fitStepToBudget(spec, budgetMb, hp);
  return { plan: choice.plan, estimate_mb: mb(choice.estimate.totalBytes), budget_mb: budgetMb };
}
