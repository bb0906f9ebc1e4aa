// Graph compiler costs: build, serialize and session creation of a ~1,000-node training graph, and ms/step of the
// composed conv + groupNorm + attention + LoRA training step (forward, backward, clip, AdamW in one session.run).
// Run: npx tsx bench/graph.ts   (prints one JSON object per line)
import { cpus } from 'node:os';
import { grad, Graph, liveNodes, Session, serialize, type HostTensor } from '@npo/graph';
import * as o from '../packages/graph/src/ops.ts';
import { seededNormal } from '../packages/graph/src/testing/gradcheck.ts';
import { frozenWeights, NET, trainableInit, trainingStep } from '../packages/graph/test/composed-net.ts';

const threads = Number(process.env.THREADS ?? Math.min(4, cpus().length));
const f32 = (shape: number[], data: Float32Array): HostTensor => ({ dtype: 'float32', shape, data });
const emit = (o: object) => console.log(JSON.stringify({ ...o, threads, node: process.version }));

async function thousandNodes() {
  const t0 = performance.now();
  const g = new Graph();
  const x = g.input('x', 'float32', [8, 64]);
  const ws: ReturnType<Graph['input']>[] = [];
  let h = x;
  // Forward layers until forward + backward passes reach ~1,000 nodes.
  for (let i = 0; g.nodes.length < 225; i++) {
    const w = g.input(`w${i}`, 'float32', [64, 64]);
    ws.push(w);
    h = o.layerNorm(o.gelu(o.linear(h, w, g.initializer(`b${i}`, f32([64], seededNormal(64, i, 0.1))))), g.initializer(`s${i}`, f32([64], new Float32Array(64).fill(1))), null);
  }
  const loss = o.reduceMean(o.square(h));
  grad(loss, ws).forEach((d, i) => g.output(`dw${i}`, d));
  g.output('loss', loss);
  const built = performance.now();
  const bytes = serialize(g);
  const serialized = performance.now();
  const s = await Session.create(bytes, { threads });
  const created = performance.now();
  await s.release();
  emit({
    bench: 'graph.build_1000_nodes',
    nodes: g.nodes.length,
    live_nodes: liveNodes(g).length,
    layers: ws.length,
    build_ms: +(built - t0).toFixed(1),
    serialize_ms: +(serialized - built).toFixed(1),
    serialized_bytes: bytes.byteLength,
    session_create_ms: +(created - serialized).toFixed(1),
  });
}

async function composedStep() {
  const frozen = frozenWeights();
  const init = trainableInit();
  const t0 = performance.now();
  const g = trainingStep(frozen, init);
  const bytes = serialize(g);
  const compiled = performance.now();
  const s = await Session.create(bytes, { threads });
  const { n, cin, h, w } = NET;
  const size = n * cin * h * w;
  let state: Record<string, HostTensor> = {};
  for (const [k, t] of Object.entries(init)) {
    state[k] = t;
    state[`m.${k}`] = f32(t.shape, new Float32Array(t.data.length));
    state[`v.${k}`] = f32(t.shape, new Float32Array(t.data.length));
  }
  const feeds = { x: f32([n, cin, h, w], seededNormal(size, 1)), target: f32([n, cin, h, w], seededNormal(size, 2)), lr: f32([], Float32Array.of(1e-3)) };
  const run = async (step: number) => {
    const res = await s.run({ ...feeds, step: f32([], Float32Array.of(step)), ...state });
    const next: Record<string, HostTensor> = {};
    for (const k of Object.keys(init)) Object.assign(next, { [k]: res[`new.${k}`], [`m.${k}`]: res[`new_m.${k}`], [`v.${k}`]: res[`new_v.${k}`] });
    state = next;
  };
  for (let i = 1; i <= 20; i++) await run(i);
  const steps = 300;
  const t1 = performance.now();
  for (let i = 21; i < 21 + steps; i++) await run(i);
  const t2 = performance.now();
  await s.release();
  emit({ bench: 'graph.composed_training_step', nodes: g.nodes.length, compile_ms: +(compiled - t0).toFixed(1), ms_per_step: +((t2 - t1) / steps).toFixed(3), steps });
}

await thousandNodes();
await composedStep();
