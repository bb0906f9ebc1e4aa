import type { SchedulerConfig } from '../schedule/noise-schedule.ts';

/** diffusers EulerDiscreteScheduler (no churn): σ_t = √((1 − ᾱ_t)/ᾱ_t), x is kept in σ-scaled form. */
export class EulerSampler {
  readonly sigmas: number[];
  constructor(readonly cfg: SchedulerConfig, readonly acp: Float32Array, readonly timesteps: number[]) {
    this.sigmas = [...timesteps.map((t) => Math.sqrt((1 - acp[t]) / acp[t])), 0];
  }

  get initNoiseSigma(): number {
    const max = this.sigmas[0];
    return (this.cfg.timestep_spacing ?? 'leading') === 'linspace' || this.cfg.timestep_spacing === 'trailing' ? max : Math.sqrt(max * max + 1);
  }

  /** The model sees x / √(σ² + 1). */
  scaleInput(sample: Float32Array, i: number): Float32Array {
    const s = 1 / Math.sqrt(this.sigmas[i] ** 2 + 1);
    return sample.map((x) => x * s);
  }

  step(i: number, sample: Float32Array, modelOutput: Float32Array): { prevSample: Float32Array; predOriginal: Float32Array } {
    const sigma = this.sigmas[i];
    const dt = this.sigmas[i + 1] - sigma;
    const x0 = new Float32Array(sample.length);
    const prev = new Float32Array(sample.length);
    for (let k = 0; k < sample.length; k++) {
      const x = sample[k];
      const m = modelOutput[k];
      const p0 = this.cfg.prediction_type === 'v_prediction' ? m * (-sigma / Math.sqrt(sigma ** 2 + 1)) + x / (sigma ** 2 + 1) : x - sigma * m;
      x0[k] = p0;
      prev[k] = x + ((x - p0) / sigma) * dt;
    }
    return { prevSample: prev, predOriginal: x0 };
  }
}
