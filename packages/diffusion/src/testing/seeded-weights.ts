import { floatToHalf, hostTensor, Rng, type HostTensor } from '@npo/graph';

/**
 * Seeded random weights for named shapes (a model known by its parameter shapes: unetParameterShapes,
 * clipTextParameterShapes, vaeParameterShapes): matrices, kernels and embeddings fan-in scaled (N(0, 1/fan_in), so
 * activations keep their scale through ~100 layers), norms at weight 1 / bias 0, other biases N(0, 0.02²); each
 * tensor its own Rng stream, in the map's order. The bench's random UNets and the seeded model folders
 * (seeded-sd-folder.ts) are made with it, so the same config and seed give the same bytes everywhere.
 */
export function seededWeights(shapes: Map<string, number[]>, seed: number, dtype: 'float32' | 'float16' = 'float32'): Record<string, HostTensor> {
  const tensors: Record<string, HostTensor> = {};
  let stream = 0;
  for (const [name, shape] of shapes) {
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
