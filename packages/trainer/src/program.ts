import type { HostTensor, Rng } from '@npo/graph';

/** A file, named `file` in the checkpoint folder, holding the parameters in another format. */
export interface ParamsExport {
  file: string;
  write(path: string, params: Record<string, HostTensor>, step: number): void;
}

/**
 * What the step loop needs from a kind of training (preference LoRA, full-parameter pretraining): the
 * compiled step, its trainable tensors, the feeds of each step, and how parameters are saved.
 */
export interface StepProgram {
  /** Path of the compiled step graph (.onnx); with `apply` set, the `accumulate` graph of one micro-batch. */
  modelPath: string;
  /**
   * Gradient accumulation: `modelPath` adds each micro-batch's gradient to `grad_sum.*`, and this graph turns
   * the sums of `microSteps` micro-batches into one clipped AdamW update. Absent: one graph per step.
   */
  apply?: { path: string; microSteps: number };
  /** Hash of everything that shapes the compiled step (its artifact folder's name); a checkpoint written under another is refused. */
  stepGraphHash: string;
  paramNames: string[];
  initialParams(): Record<string, HostTensor>;
  /** Data and noise feeds of one step, drawn from `rng` and the program's data stream. */
  batch(rng: Rng): Record<string, HostTensor>;
  dataState(): unknown;
  setDataState(state: unknown): void;
  writeParams(path: string, params: Record<string, HostTensor>, step: number): void;
  /** Other formats of the parameters written beside them in every checkpoint (e.g. kohya naming). */
  exports?: ParamsExport[];
  readParams(path: string): Record<string, HostTensor>;
  /** Scalar outputs of the step graph reported as metrics each step. */
  metricOutputs: string[];
}
