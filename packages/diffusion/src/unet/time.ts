import { concat, cos, mul, reshape, silu, sin, type Graph, type Value } from '@npo/graph';
import { linearAt, type ModelContext } from '../model/context.ts';

/**
 * diffusers get_timestep_embedding's frequencies, rounded to float32 at each step as torch computes them
 * (arange·(−ln 10000) / (half − shift), then exp), so the sinusoids match the reference bit for bit or nearly.
 */
export function timestepFrequencies(dim: number, freqShift: number): Float32Array {
  const half = Math.floor(dim / 2);
  const out = new Float32Array(half);
  const c = Math.fround(-Math.log(10000));
  for (let i = 0; i < half; i++) out[i] = Math.exp(Math.fround(Math.fround(c * i) / (half - freqShift)));
  return out;
}

/** Sinusoidal embedding of float32 timesteps [B] → [B, dim] (flip_sin_to_cos puts cos first). */
export function timestepEmbedding(g: Graph, timesteps: Value, dim: number, flipSinToCos: boolean, freqShift: number): Value {
  const freqs = g.initializer(g.freshName('time_freqs'), { dtype: 'float32', shape: [1, dim / 2], data: timestepFrequencies(dim, freqShift) });
  const args = mul(reshape(timesteps, [timesteps.shape[0], 1]), freqs);
  const parts = flipSinToCos ? [cos(args), sin(args)] : [sin(args), cos(args)];
  return concat(parts, 1);
}

/** diffusers TimestepEmbedding: linear_1, SiLU, linear_2. */
export function timeMlp(ctx: ModelContext, path: string, x: Value): Value {
  return linearAt(ctx, `${path}.linear_2`, silu(linearAt(ctx, `${path}.linear_1`, x)));
}

