import type { Rng } from '@npo/graph';

/**
 * The random parts of a training batch that every program draws the same way, in this order per step:
 * prompt dropout, then timesteps (then the program's noise). Keeping the order fixed keeps resumes bit-exact.
 */

/** Prompt dropout (for classifier-free guidance): each sample's embedding becomes `uncond` with probability `p`, in place; returns the dropped samples (SDXL drops their pooled embedding too). */
export function dropPrompts(embeds: Float32Array, uncond: Float32Array, samples: number, p: number, rng: Rng): number[] {
  const dropped: number[] = [];
  if (p <= 0) return dropped;
  const per = embeds.length / samples;
  for (let i = 0; i < samples; i++)
    if (rng.float() < p) {
      embeds.set(uncond, i * per);
      dropped.push(i);
    }
  return dropped;
}

/** One uniform training timestep in {0, …, T − 1} per sample, as the int64 feed the step graph takes. */
export function drawTimesteps(rng: Rng, samples: number, T: number): BigInt64Array {
  const timesteps = new BigInt64Array(samples);
  for (let i = 0; i < samples; i++) timesteps[i] = BigInt(rng.int(T));
  return timesteps;
}
