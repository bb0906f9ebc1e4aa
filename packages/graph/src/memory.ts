import { DTYPES, numel } from './dtype.ts';
import { loadTimeConstants, type Graph, type Value } from './graph.ts';

/** What one run of a graph holds in memory, by kind, in bytes (from shapes alone: nothing is run). */
export interface GraphMemory {
  /** Initializers as stored (a float16 weights file counts 2 bytes a parameter). */
  initializerBytes: number;
  /**
   * What stays resident once the session exists: onnxruntime constant-folds every node whose inputs are all
   * initializers (a weight's Cast to float32), so the float32 copies are kept and the stored tensors they replace
   * are not counted again.
   */
  residentConstantBytes: number;
  /** The graph inputs (fed every run). */
  inputBytes: number;
  /** The largest sum of intermediate values alive at once, running the nodes in graph order. */
  peakActivationBytes: number;
}

export const valueBytes = (v: Value) => numel(v.shape) * DTYPES[v.dtype].bytes;

/**
 * Liveness over the graph's node order (or `order`, node indices as a runtime ran them: execution-order.ts): every
 * value is allocated when its node runs and freed after its last reader; graph outputs live to the end.
 * Activation-checkpoint regions need no special case — their backward copies are ordinary nodes late in the graph,
 * so what the forward no longer keeps simply dies early.
 */
export function graphMemory(g: Graph, order?: readonly number[]): GraphMemory {
  const { initializerBytes, residentConstantBytes, inputBytes, peakActivationBytes } = liveness(g, order);
  return { initializerBytes, residentConstantBytes, inputBytes, peakActivationBytes };
}

/**
 * The intermediate values alive at graphMemory's peak (allocated at or before the peak's node and read at or after
 * it), largest first: what to shrink to lower the peak.
 */
export function valuesLiveAtPeak(g: Graph, order?: readonly number[]): Value[] {
  const { sequence, folded, lastUse, outputs, peakStep } = liveness(g, order);
  const live: Value[] = [];
  for (let k = 0; k <= peakStep; k++) {
    if (folded[sequence[k]]) continue;
    for (const o of g.nodes[sequence[k]].outputs) if (k === peakStep || outputs.has(o) || (lastUse.get(o) ?? -1) >= peakStep) live.push(o);
  }
  return live.sort((a, b) => valueBytes(b) - valueBytes(a));
}

function liveness(g: Graph, order?: readonly number[]) {
  const sequence = order ?? g.nodes.map((_, i) => i);
  const constant = loadTimeConstants(g);
  let initializerBytes = 0;
  for (const { value } of g.initializers.values()) initializerBytes += valueBytes(value);
  const folded = g.nodes.map((n) => n.outputs.every((o) => constant.has(o)));
  const outputs = new Set(g.outputs.map((o) => o.value));
  const inputs = new Set(g.inputs);
  const lastUse = new Map<Value, number>();
  const residentConstants = new Set<Value>();
  sequence.forEach((i, k) => {
    if (folded[i]) return;
    for (const v of g.nodes[i].inputs) {
      if (!v) continue;
      if (constant.has(v)) residentConstants.add(v);
      else lastUse.set(v, k);
    }
  });
  for (const v of outputs) if (constant.has(v)) residentConstants.add(v);
  let residentConstantBytes = 0;
  for (const v of residentConstants) residentConstantBytes += valueBytes(v);
  let inputBytes = 0;
  for (const v of inputs) inputBytes += valueBytes(v);

  let live = 0;
  let peak = 0;
  let peakStep = 0;
  const freeAt = new Map<number, Value[]>();
  for (const [v, i] of lastUse) {
    if (inputs.has(v) || outputs.has(v)) continue;
    let list = freeAt.get(i);
    if (!list) freeAt.set(i, (list = []));
    list.push(v);
  }
  sequence.forEach((i, k) => {
    if (folded[i]) return;
    const n = g.nodes[i];
    for (const o of n.outputs) live += valueBytes(o);
    if (live > peak) [peak, peakStep] = [live, k];
    // an output nobody reads is freed at once
    for (const o of n.outputs) if (!lastUse.has(o) && !outputs.has(o)) live -= valueBytes(o);
    for (const v of freeAt.get(k) ?? []) live -= valueBytes(v);
  });
  return { initializerBytes, residentConstantBytes, inputBytes, peakActivationBytes: peak, peakStep, sequence, folded, lastUse, outputs };
}
