import type { Precision } from '@npo/contracts';

/** The UNet reference check's tolerances (fixtures README "Correctness"), one set per `precision`. */
export interface UNetTolerances {
  /** atol: UNet outputs (forward, model_pred, ref_pred, the sampler's eps_cond / eps_uncond) */
  prediction: number;
  /** atol: per-sample MSEs (model_losses, ref_losses) */
  losses: number;
  /** atol: β-scaled difference inside the log-sigmoid, and the loss */
  inside: number;
  loss: number;
  /** factor × max|ref|: preference gradients, and the mean-MSE gradients (a well-conditioned check) */
  grads: number;
  gradsMseMean: number;
  /**
   * atol of the first AdamW step from own gradients (≈ −lr·sign(g)), where |ref grad| > adamwMaskThreshold: the
   * threshold sits above the gradients' absolute error, so no sign can flip where it is compared.
   */
  adamwFromOwnGrads: number;
  adamwMaskThreshold: number;
  /** atol: DDIM's predicted x0 and next latents */
  sampling: number;
}

/**
 * fp32: the float32 fixtures' tolerances, unchanged. fp16: the larger error of tiny-unet and sdxl-tiny (CPU,
 * onnxruntime 1.29 inserting casts; the README's correctness section lists both) with about 3× margin. Every 16-bit
 * product carries a 2⁻¹¹ relative rounding of its operands, and the preference loss multiplies the per-sample MSE
 * difference by β/2 (2500 in the fixtures): `inside`, the loss and the preference gradients inherit that, which is why
 * their tolerances are far looser than the predictions'. The mean-MSE gradients are compared per tensor against that
 * tensor's largest |g|: tensors with small gradients see fp16's absolute backward noise as a large fraction of it.
 * bf16 has 3 fewer mantissa bits (2⁻⁸): fp16's tolerances × 8, provisional — not measured yet (no CPU kernels;
 * scripts/gpu-check.sh reports the errors on CUDA).
 */
export const UNET_TOLERANCES: Record<Precision, UNetTolerances> = {
  fp32: { prediction: 1e-4, losses: 1e-5, inside: 1e-2, loss: 5e-3, grads: 5e-3, gradsMseMean: 1e-4, adamwFromOwnGrads: 1e-6, adamwMaskThreshold: 5e-3, sampling: 1e-3 },
  fp16: { prediction: 2e-2, losses: 5e-4, inside: 1, loss: 0.5, grads: 0.3, gradsMseMean: 0.25, adamwFromOwnGrads: 1e-6, adamwMaskThreshold: 1, sampling: 0.3 },
  bf16: { prediction: 0.16, losses: 4e-3, inside: 8, loss: 4, grads: 1, gradsMseMean: 1, adamwFromOwnGrads: 1e-6, adamwMaskThreshold: 8, sampling: 2.4 },
};
