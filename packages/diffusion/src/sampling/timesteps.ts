import type { SchedulerConfig } from '../schedule/noise-schedule.ts';

/** Inference timesteps as diffusers' DDIM/Euler schedulers choose them for each spacing. */
export function inferenceTimesteps(cfg: SchedulerConfig, steps: number): number[] {
  const T = cfg.num_train_timesteps;
  if (!(steps >= 1 && steps <= T)) throw new Error(`sampling steps must be between 1 and ${T}, got ${steps}`);
  const spacing = cfg.timestep_spacing ?? 'leading';
  if (spacing === 'leading') {
    const ratio = Math.floor(T / steps);
    return Array.from({ length: steps }, (_, i) => (steps - 1 - i) * ratio + (cfg.steps_offset ?? 0));
  }
  if (spacing === 'trailing') {
    const ratio = T / steps;
    return Array.from({ length: steps }, (_, i) => Math.round(T - i * ratio) - 1);
  }
  return Array.from({ length: steps }, (_, i) => Math.round(((T - 1) * (steps - 1 - i)) / Math.max(1, steps - 1)));
}
