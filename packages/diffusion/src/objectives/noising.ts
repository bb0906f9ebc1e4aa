import { add, gather, mul, reshape, sub, type Value } from '@npo/graph';

/**
 * Forward diffusion in the graph: x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε per sample, and the training target
 * (ε for 'epsilon', v = √ᾱ_t·ε − √(1−ᾱ_t)·x₀ for 'v_prediction'). `timesteps` is int64 [B], x₀ and ε are [B, …].
 */
export function noiseSamples(
  x0: Value, noise: Value, timesteps: Value, alphasCumprod: Float32Array, prediction: 'epsilon' | 'v_prediction',
): { noisy: Value; target: Value } {
  const g = x0.graph;
  const table = (name: string, data: Float32Array) => g.initializer(g.freshName(name), { dtype: 'float32', shape: [data.length], data });
  const perSample = [x0.shape[0], ...x0.shape.slice(1).map(() => 1)];
  const coef = (tab: Value) => reshape(gather(tab, timesteps, 0), perSample);
  const a = coef(table('sqrt_alphas_cumprod', Float32Array.from(alphasCumprod, (v) => Math.sqrt(v))));
  const s = coef(table('sqrt_one_minus_alphas_cumprod', Float32Array.from(alphasCumprod, (v) => Math.sqrt(1 - v))));
  const noisy = add(mul(a, x0), mul(s, noise));
  const target = prediction === 'epsilon' ? noise : sub(mul(a, noise), mul(s, x0));
  return { noisy, target };
}
