import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { floatToHalf, hostTensor, Rng, writeSafetensors, type HostTensor } from '@npo/graph';
import { unetParameterShapes, type UNetConfig } from '@npo/diffusion';

/**
 * Seeded random weights for `cfg`: matrices and kernels fan-in scaled (N(0, 1/fan_in), so activations keep
 * their scale through ~100 layers), norms at weight 1 / bias 0, other biases N(0, 0.02²).
 */
export function randomUNetWeights(cfg: UNetConfig, seed: number, dtype: 'float32' | 'float16' = 'float32'): Record<string, HostTensor> {
  const tensors: Record<string, HostTensor> = {};
  let stream = 0;
  for (const [name, shape] of unetParameterShapes(cfg)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    const isNorm = /norm[^.]*\.(weight|bias)$/.test(name);
    if (isNorm) data.fill(name.endsWith('.weight') ? 1 : 0);
    else {
      const fanIn = shape.length > 1 ? size / shape[0] : 0;
      new Rng(seed, stream).fillNormal(data, 0, fanIn ? 1 / Math.sqrt(fanIn) : 0.02);
    }
    stream++;
    // fp16 tensor by tensor, so a full-size model never holds all of its float32 values at once
    tensors[name] = dtype === 'float16' ? hostTensor('float16', shape, Uint16Array.from(data, floatToHalf)) : hostTensor('float32', shape, data);
  }
  return tensors;
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
