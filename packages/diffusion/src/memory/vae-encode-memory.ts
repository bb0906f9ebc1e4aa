import { graphMemory } from '@npo/graph';
import { WeightSource } from '../model/weights.ts';
import type { VaeConfig } from '../vae/config.ts';
import { vaeParameterShapes } from '../vae/parameters.ts';
import { vaeEncoderGraph } from '../vae/vae.ts';
import { estimateFromGraph, type StepMemoryEstimate } from './step-memory.ts';

/**
 * Peak memory of a process running the VAE encoder on `batch` images of `resolution` px, from the graph alone (config
 * shapes, float32 weights: nothing loaded or run). An inference graph keeps nothing for a backward pass, so it is
 * priced as a training step that recomputes nothing ('keep': the same runtime, weights and arena calibration,
 * step-memory.ts). The activation peak grows with batch × resolution² (SD1.5's encoder at 512 px: ~0.5 GB an image).
 */
export function estimateVaeEncodeMemory(config: VaeConfig, batch: number, resolution: number): StepMemoryEstimate {
  const weights = WeightSource.fromShapes(vaeParameterShapes(config), 'float32');
  const graph = graphMemory(vaeEncoderGraph(weights, config, batch, resolution));
  return estimateFromGraph('keep', graph, graph.peakActivationBytes);
}
