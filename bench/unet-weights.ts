import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeSafetensors, type HostTensor } from '@npo/graph';
import { seededWeights, unetParameterShapes, type UNetConfig } from '@npo/diffusion';

/** Seeded random weights for `cfg` (seededWeights: fan-in scaled matrices and kernels, unit norms, small biases). */
export function randomUNetWeights(cfg: UNetConfig, seed: number, dtype: 'float32' | 'float16' = 'float32'): Record<string, HostTensor> {
  return seededWeights(unetParameterShapes(cfg), seed, dtype);
}

/** Writes the random weights once to `path` (a cache: reused when present). */
export function ensureRandomUNetWeights(path: string, cfg: UNetConfig, seed: number, dtype: 'float32' | 'float16' = 'float32'): string {
  if (existsSync(path)) return path;
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeSafetensors(tmp, randomUNetWeights(cfg, seed, dtype), { format: 'pt', generator: 'npo-forge bench', seed: String(seed) });
  renameSync(tmp, path);
  return path;
}
