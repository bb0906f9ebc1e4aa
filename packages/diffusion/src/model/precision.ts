import { PrecisionUnsupportedError, type Precision } from '@npo/contracts';
import type { DType, ExecutionProvider } from '@npo/graph';

/** The element type the base model's Conv/Gemm/MatMul run in, per precision (everything else stays float32). */
export const COMPUTE_DTYPE: Record<Precision, 'float32' | 'float16' | 'bfloat16'> = { fp32: 'float32', fp16: 'float16', bf16: 'bfloat16' };

export const computeDtype = (precision: Precision | undefined): DType => COMPUTE_DTYPE[precision ?? 'fp32'];

/**
 * Fails before compiling when `provider` cannot run `precision`. fp16 runs everywhere: on CPU onnxruntime inserts
 * casts to float32 around the nodes it has no float16 kernels for (slower than fp32, for checks, not for speed).
 * bf16 has no such fallback on CPU: session creation would fail deep in onnxruntime ("Could not find an
 * implementation for Gemm(13)"), so it is refused here, by name.
 */
export function assertPrecisionSupported(precision: Precision | undefined, provider: ExecutionProvider | undefined): void {
  if (precision === 'bf16' && (provider ?? 'cpu') === 'cpu')
    throw new PrecisionUnsupportedError('bf16', 'cpu', "onnxruntime's CPU provider has no bfloat16 Conv/Gemm/MatMul kernels; use fp16 or fp32 on CPU, bf16 on cuda");
}
