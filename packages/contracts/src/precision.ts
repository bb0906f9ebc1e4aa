import { InputError } from './errors.ts';

/**
 * The `precision` hyperparameter's values. `fp32`: everything in float32 (the CPU default, bit-identical to the
 * fixtures). `fp16` / `bf16`: mixed precision — the frozen base weights and the base model's Conv/Gemm/MatMul in
 * float16 / bfloat16; LoRA master weights, AdamW state, norms, softmax, the loss and its reductions in float32.
 */
export const PRECISIONS = ['fp32', 'fp16', 'bf16'] as const;
export type Precision = (typeof PRECISIONS)[number];

/**
 * A precision the execution provider cannot run: onnxruntime's CPU provider has no bfloat16 Conv/Gemm/MatMul kernels
 * and, unlike for float16, inserts no casts around them. Raised before compiling, naming the provider.
 */
export class PrecisionUnsupportedError extends InputError {
  constructor(precision: Precision, provider: string, why: string) {
    super(`precision '${precision}' cannot run on the ${provider} execution provider: ${why}`, { precision, execution_provider: provider }, 'precision_unsupported', 400);
  }
}
