// The names by which the trainer (and bench/) feeds the training step graphs and reads them back. The builders in
// this folder declare the graph's inputs and outputs under these names; the step loop and the programs' batches use
// the same table, so a renamed input cannot leave one side feeding a name the graph no longer has.

/** Inputs of the step graphs (preference and pretrain) besides the parameters and their AdamW state. */
export const STEP_INPUTS = {
  /** 1-based optimizer step count, float32 scalar: AdamW's bias correction (one artifact serves every step). */
  step: 'step',
  /** Learning rate of this step, float32 scalar (one artifact serves every schedule and warm-up). */
  lr: 'lr',
  /** Preference step: latents of the chosen and rejected images, [P, C, h, w]. */
  chosen: 'chosen',
  rejected: 'rejected',
  /** Pretrain step: clean samples, [N, C, H, W]. */
  images: 'images',
  /** Noise shared by both sides of a pair (preference) or per sample (pretrain), and the int64 timesteps. */
  noise: 'noise',
  timesteps: 'timesteps',
  /** Prompt embeddings [P, tokens, dim]. */
  embeds: 'embeds',
  /** SDXL's added conditioning: pooled text embeddings and each side's 6 time ids. */
  textEmbeds: 'text_embeds',
  chosenTimeIds: 'chosen_time_ids',
  rejectedTimeIds: 'rejected_time_ids',
} as const;

/** Scalar outputs of the step graphs that the trainer reports as metrics (`grad_norm` comes from the update). */
export const STEP_OUTPUTS = {
  loss: 'loss',
  implicitAcc: 'implicit_acc',
  gradNorm: 'grad_norm',
  modelMse: 'model_mse',
  refMse: 'ref_mse',
} as const;

/** Graph names of the AdamW state of parameter `key`, and of a tensor's updated value: the trainer feeds them back. */
export const adamStateName = (key: string, which: 'm' | 'v') => `adam_${which}.${key}`;
export const updatedName = (key: string) => `new.${key}`;
/** Graph name of the running sum of micro-batch gradients of parameter `key` (gradient accumulation). */
export const gradSumName = (key: string) => `grad_sum.${key}`;
