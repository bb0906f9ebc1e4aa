/** diffusers' DDPM/DDIM scheduler config fields that define the training noise schedule. */
export interface SchedulerConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: 'linear' | 'scaled_linear';
  prediction_type: 'epsilon' | 'v_prediction';
  steps_offset?: number;
  set_alpha_to_one?: boolean;
  clip_sample?: boolean;
  clip_sample_range?: number;
  timestep_spacing?: 'leading' | 'trailing' | 'linspace';
}

export const SD15_SCHEDULER: SchedulerConfig = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  prediction_type: 'epsilon',
  steps_offset: 1,
  set_alpha_to_one: false,
  clip_sample: false,
  timestep_spacing: 'leading',
};

export function parseSchedulerConfig(raw: Record<string, unknown>): SchedulerConfig {
  const cfg = { ...SD15_SCHEDULER, ...raw } as SchedulerConfig;
  if (cfg.beta_schedule !== 'linear' && cfg.beta_schedule !== 'scaled_linear')
    throw new Error(`scheduler: beta_schedule '${cfg.beta_schedule}' is not supported (linear, scaled_linear)`);
  if (cfg.prediction_type !== 'epsilon' && cfg.prediction_type !== 'v_prediction')
    throw new Error(`scheduler: prediction_type '${cfg.prediction_type}' is not supported (epsilon, v_prediction)`);
  return cfg;
}

/** torch.linspace in float32: the first half counts up from start, the second half down from end. */
function linspace32(start: number, end: number, n: number): Float32Array {
  const out = new Float32Array(n);
  const s = Math.fround(start);
  const e = Math.fround(end);
  const step = Math.fround((e - s) / (n - 1));
  const half = Math.floor(n / 2);
  for (let i = 0; i < n; i++) out[i] = i < half ? Math.fround(s + Math.fround(step * i)) : Math.fround(e - Math.fround(step * (n - 1 - i)));
  return out;
}

/** ᾱ_t for t = 0…T−1, computed in float32 step by step as diffusers does. */
export function alphasCumprod(cfg: SchedulerConfig): Float32Array {
  const T = cfg.num_train_timesteps;
  const betas =
    cfg.beta_schedule === 'linear'
      ? linspace32(cfg.beta_start, cfg.beta_end, T)
      : linspace32(Math.sqrt(cfg.beta_start), Math.sqrt(cfg.beta_end), T).map((b) => Math.fround(b * b));
  const out = new Float32Array(T);
  let acc = 1;
  for (let i = 0; i < T; i++) out[i] = acc = Math.fround(acc * Math.fround(1 - betas[i]));
  return out;
}
