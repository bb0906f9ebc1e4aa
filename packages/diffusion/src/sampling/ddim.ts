import type { SchedulerConfig } from '../schedule/noise-schedule.ts';

export interface DdimOptions {
  /** Clamp the predicted x0 (diffusers `clip_sample`) to ±range, and re-derive eps from it. */
  clipSample?: boolean;
  clipRange?: number;
  setAlphaToOne?: boolean;
}

export interface DdimStep {
  prevSample: Float32Array;
  predOriginal: Float32Array;
}

/**
 * diffusers DDIMScheduler.step with eta = 0, for epsilon or v prediction. With clipping, eps is recomputed
 * from the clipped x0 (`use_clipped_model_output`): without it, pixel-space samples drift out of range.
 */
export function ddimStep(
  cfg: SchedulerConfig, acp: Float32Array, steps: number, t: number, sample: Float32Array, modelOutput: Float32Array, o: DdimOptions = {},
): DdimStep {
  const prevT = t - Math.floor(cfg.num_train_timesteps / steps);
  const a = acp[t];
  const setOne = o.setAlphaToOne ?? cfg.set_alpha_to_one ?? false;
  const aPrev = prevT >= 0 ? acp[prevT] : setOne ? 1 : acp[0];
  const b = 1 - a;
  const sa = Math.sqrt(a);
  const sb = Math.sqrt(b);
  const clip = o.clipSample ?? cfg.clip_sample ?? false;
  const range = o.clipRange ?? cfg.clip_sample_range ?? 1;
  const n = sample.length;
  const x0 = new Float32Array(n);
  const prev = new Float32Array(n);
  const dirCoef = Math.sqrt(1 - aPrev);
  const saPrev = Math.sqrt(aPrev);
  for (let i = 0; i < n; i++) {
    const x = sample[i];
    const m = modelOutput[i];
    let p0: number;
    let eps: number;
    if (cfg.prediction_type === 'v_prediction') {
      p0 = sa * x - sb * m;
      eps = sa * m + sb * x;
    } else {
      p0 = (x - sb * m) / sa;
      eps = m;
    }
    if (clip) {
      p0 = Math.min(Math.max(p0, -range), range);
      eps = (x - sa * p0) / sb;
    }
    x0[i] = p0;
    prev[i] = saPrev * p0 + dirCoef * eps;
  }
  return { prevSample: prev, predOriginal: x0 };
}
