import { DEFAULT_ATTENTION_CHECKPOINT_ELEMENTS } from '@npo/graph';
import type { AttentionMemory } from '../model/context.ts';

/**
 * How much of the adapted UNet's forward a training step keeps for its backward, from most kept (fastest) to least
 * (most recomputed). The step graph is built with the first plan whose memory estimate fits the budget
 * (chooseStepMemoryPlan), so a small model recomputes nothing and only a model that needs it pays for recomputation.
 */
export interface StepMemoryPlan {
  name: StepMemoryPlanName;
  attention: AttentionMemory;
  checkpointBlocks: boolean;
}

export const STEP_MEMORY_PLAN_NAMES = ['keep', 'attention', 'blocks'] as const;
export type StepMemoryPlanName = (typeof STEP_MEMORY_PLAN_NAMES)[number];

export const STEP_MEMORY_PLANS: Record<StepMemoryPlanName, StepMemoryPlan> = {
  // every activation kept (attention still query-chunked, which bounds the forward's transient maps)
  keep: { name: 'keep', attention: { checkpointElements: Infinity }, checkpointBlocks: false },
  // attention chunks whose probability maps exceed 1 MiB are recomputed in the backward
  attention: { name: 'attention', attention: { checkpointElements: DEFAULT_ATTENTION_CHECKPOINT_ELEMENTS }, checkpointBlocks: false },
  // and every resnet and transformer block: only block inputs are kept (full checkpointing)
  blocks: { name: 'blocks', attention: { checkpointElements: DEFAULT_ATTENTION_CHECKPOINT_ELEMENTS }, checkpointBlocks: true },
};
