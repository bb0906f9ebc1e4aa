import type { WeightSource } from '../model/weights.ts';

/** diffusers' current attention module names and the names checkpoints stored before diffusers' Attention class (0.14). */
const LEGACY_ATTENTION: [current: string, legacy: string][] = [
  ['.to_q.', '.query.'],
  ['.to_k.', '.key.'],
  ['.to_v.', '.value.'],
  ['.to_out.0.', '.proj_attn.'],
];

function rename(name: string, from: 0 | 1): string | null {
  for (const pair of LEGACY_ATTENTION) {
    const i = name.lastIndexOf(pair[from]);
    if (i >= 0 && /^(weight|bias)$/.test(name.slice(i + pair[from].length))) return name.slice(0, i) + pair[1 - from] + name.slice(i + pair[from].length);
  }
  return null;
}

/**
 * `weights` seen under current diffusers names: a name the file lacks is looked up under its legacy spelling
 * (`query/key/value/proj_attn`). The result is a WeightSource itself, so model code and external data work
 * unchanged: the bytes are still read from the file in place, under the name they are stored as.
 */
export function withLegacyAttentionNames(weights: WeightSource): WeightSource {
  const stored = (name: string): string => {
    if (weights.has(name)) return name;
    const old = rename(name, 0);
    return old && weights.has(old) ? old : name;
  };
  return new Proxy(weights, {
    get(target, prop) {
      switch (prop) {
        case 'has':
          return (name: string) => target.has(stored(name));
        case 'shape':
          return (name: string) => target.shape(stored(name));
        case 'read':
          return (name: string) => target.read(stored(name));
        case 'param':
          return (g: Parameters<WeightSource['param']>[0], name: string, expected?: number[]) => target.param(g, stored(name), expected);
        case 'names':
          return () => target.names().map((n) => rename(n, 1) ?? n);
        default: {
          const v = Reflect.get(target, prop, target);
          return typeof v === 'function' ? v.bind(target) : v;
        }
      }
    },
  });
}
