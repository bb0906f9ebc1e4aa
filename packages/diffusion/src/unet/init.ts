import { hostTensor, numel, Rng, type HostTensor } from '@npo/graph';
import type { UNetConfig } from './config.ts';
import { unetParameterShapes } from './parameters.ts';

/**
 * Fresh weights with torch's default initialisation: Linear/Conv weights and biases U(±1/√fan_in)
 * (kaiming_uniform with a = √5), norm weights 1 and biases 0. Seeded: the same seed gives the same model.
 */
export function initUNetWeights(cfg: UNetConfig, seed: number): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  const shapes = unetParameterShapes(cfg);
  let stream = 0;
  for (const [name, shape] of shapes) {
    const t = hostTensor('float32', shape);
    const data = t.data as Float32Array;
    const isNorm = /(norm\d?|norm_out|\.norm)\.(weight|bias)$/.test(name);
    if (isNorm) data.fill(name.endsWith('.weight') ? 1 : 0);
    else {
      const module = name.replace(/\.(weight|bias)$/, '');
      const w = shapes.get(`${module}.weight`)!;
      const fanIn = numel(w.slice(1));
      const bound = 1 / Math.sqrt(fanIn);
      const rng = new Rng(seed, stream++);
      for (let i = 0; i < data.length; i++) data[i] = (2 * rng.float() - 1) * bound;
    }
    out[name] = t;
  }
  return out;
}
