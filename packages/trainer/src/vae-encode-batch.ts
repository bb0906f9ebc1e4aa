import { estimateVaeEncodeMemory, type VaeConfig } from '@npo/diffusion';
import { mb, memoryBudgetMbOr } from './step-memory-fit.ts';

/** The encoder batches preparation tries, largest first. */
export const VAE_ENCODE_BATCHES = [16, 8, 4, 2, 1] as const;

/**
 * The share of MEMORY_BUDGET_MB the VAE encoder may plan for. Not all of it: the text encoders' and the VAE decoder's
 * sessions are resident beside it, so are the decoded dataset images, and a sampling request may run in the same
 * process meanwhile — and on a CPU a batch beyond a few full-size images buys little speed for its memory.
 */
export const VAE_ENCODE_BUDGET_SHARE = 1 / 4;

export interface VaeEncodeBatch {
  /** Images per encoder call. */
  batch: number;
  estimateMb: number;
  /** What the estimate had to fit: VAE_ENCODE_BUDGET_SHARE of the budget. */
  allowedMb: number;
}

/**
 * The VAE encoder's batch for preparation: the largest in VAE_ENCODE_BATCHES, at most `maxImages` (the images one
 * call is given), whose estimated peak (estimateVaeEncodeMemory) fits the share of the budget; 1 when none does
 * (the batch changes the peak, not the latents, so preparation goes on one image at a time). At 512 px SD1.5's encoder
 * needs ~0.5 GB an image; at 64 px 16 images fit anywhere.
 */
export function chooseVaeEncodeBatch(config: VaeConfig, resolution: number, memoryBudgetMb: number | undefined, maxImages: number): VaeEncodeBatch {
  const allowedMb = Math.floor(memoryBudgetMbOr(memoryBudgetMb) * VAE_ENCODE_BUDGET_SHARE);
  let last: VaeEncodeBatch | null = null;
  for (const batch of VAE_ENCODE_BATCHES) {
    if (batch > maxImages && batch > 1) continue;
    last = { batch, estimateMb: mb(estimateVaeEncodeMemory(config, batch, resolution).totalBytes), allowedMb };
    if (last.estimateMb <= allowedMb) return last;
  }
  return last!;
}
