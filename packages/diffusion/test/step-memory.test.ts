import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Graph, graphMemory, mul, valueBytes, valuesLiveAtPeak } from '@npo/graph';
import {
  buildStepWithPlan, chooseStepMemoryPlan, DEFAULT_TARGETS, estimateStepMemory, parseUNetConfig, stepSpecFromConfig, type StepMemoryPlanName, type UNetConfig,
} from '../src/index.ts';
import { WORKLOADS } from '../../../bench/workloads.ts';

const TINY = parseUNetConfig(JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures/tiny-unet/unet/config.json'), 'utf8')));
const SD15S = parseUNetConfig(WORKLOADS.sd15s.unetConfig);
const MB = 2 ** 20;

const spec = (config: UNetConfig, o: { pairs: number; latent: number; embed: [number, number]; rank: number; dtype?: 'float32' | 'float16' }) =>
  stepSpecFromConfig({ config, weightsDtype: o.dtype ?? 'float32', pairs: o.pairs, latentShape: [4, o.latent, o.latent], embedShape: o.embed, lora: { rank: o.rank, alpha: o.rank, targets: DEFAULT_TARGETS } });

test('graphMemory: values live from their node to their last reader; initializers and what folds from them are resident', () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [1000]);
  const w = g.initializer('w', { dtype: 'float32', shape: [1000], data: new Float32Array(1000) });
  const w2 = mul(w, 2); // folded: a resident constant, not an activation
  const a = mul(x, w2);
  const b = mul(a, 3);
  const c = mul(b, 4);
  g.output('c', c);
  const m = graphMemory(g);
  assert.equal(m.inputBytes, 4000);
  assert.equal(m.initializerBytes, 4000 + 4 * 3, 'w and the three scalars');
  assert.equal(m.residentConstantBytes, 4000 + 4 * 2, 'w·2 and the scalars 3 and 4 the activations read');
  assert.equal(m.peakActivationBytes, 8000, 'a and b, then b and c: never all three');
  assert.deepEqual(valuesLiveAtPeak(g), [a, b], 'the first peak: a (read by this node) and b');
});

test('valuesLiveAtPeak: the values alive at a step graph\'s simulated peak add up to that peak', () => {
  const step = buildStepWithPlan(spec(SD15S, { pairs: 1, latent: 32, embed: [77, 768], rank: 8 }), 'attention');
  const live = valuesLiveAtPeak(step.graph);
  assert.equal(live.reduce((s, v) => s + valueBytes(v), 0), graphMemory(step.graph).peakActivationBytes);
  // at sd15s's peak a recomputed 256-row attention chunk's maps are the largest values, none of a full 1,024-row map
  assert.deepEqual(live[0].shape, [2, 8, 256, 1024]);
});

// Peak RSS measured here with `bench/run.ts <workload> --plan <plan> [--pairs N] --threads 2 --steps 2` (6 Dec 2026, session 7,
// onnxruntime-node CPU, 'extended', nodes listed by runtimeListing, after `--prepare-only` in its own process).
// The estimate must stay within 10 % of each.
const SD15 = parseUNetConfig(WORKLOADS.sd15.unetConfig);
const SDXL = parseUNetConfig(WORKLOADS.sdxl.unetConfig);
const MEASURED: { name: string; config: UNetConfig; pairs: number; latent: number; embed: [number, number]; rank: number; dtype?: 'float16'; plan: StepMemoryPlanName; mb: number }[] = [
  { name: 'tiny', config: TINY, pairs: 2, latent: 8, embed: [7, 32], rank: 4, plan: 'keep', mb: 234.3 },
  { name: 'tiny', config: TINY, pairs: 2, latent: 8, embed: [7, 32], rank: 4, plan: 'blocks', mb: 242.3 },
  { name: 'sd15s', config: SD15S, pairs: 1, latent: 32, embed: [77, 768], rank: 8, plan: 'keep', mb: 1153.6 },
  { name: 'sd15s', config: SD15S, pairs: 1, latent: 32, embed: [77, 768], rank: 8, plan: 'attention', mb: 754.8 },
  { name: 'sd15s', config: SD15S, pairs: 1, latent: 32, embed: [77, 768], rank: 8, plan: 'blocks', mb: 646.8 },
  { name: 'sd15s', config: SD15S, pairs: 2, latent: 32, embed: [77, 768], rank: 8, plan: 'keep', mb: 1879.1 },
  { name: 'sd15s', config: SD15S, pairs: 2, latent: 32, embed: [77, 768], rank: 8, plan: 'attention', mb: 1078.4 },
  { name: 'sd15s', config: SD15S, pairs: 2, latent: 32, embed: [77, 768], rank: 8, plan: 'blocks', mb: 825.2 },
  { name: 'sd15s-f16', config: SD15S, pairs: 1, latent: 32, embed: [77, 768], rank: 8, dtype: 'float16', plan: 'keep', mb: 1168.6 },
  { name: 'sd15 (512 px)', config: SD15, pairs: 1, latent: 64, embed: [77, 768], rank: 8, dtype: 'float16', plan: 'keep', mb: 16022.4 },
  { name: 'sd15 (512 px)', config: SD15, pairs: 1, latent: 64, embed: [77, 768], rank: 8, dtype: 'float16', plan: 'attention', mb: 8777.2 },
  { name: 'sd15 (512 px)', config: SD15, pairs: 1, latent: 64, embed: [77, 768], rank: 8, dtype: 'float16', plan: 'blocks', mb: 6726.4 },
  { name: 'sdxl (64×64 latents)', config: SDXL, pairs: 1, latent: 64, embed: [77, 2048], rank: 8, dtype: 'float16', plan: 'attention', mb: 20014.5 },
  { name: 'sdxl (64×64 latents)', config: SDXL, pairs: 1, latent: 64, embed: [77, 2048], rank: 8, dtype: 'float16', plan: 'blocks', mb: 12323.0 },
];

test('the step memory estimate is within 10 % of the peak RSS measured on every workload that fits this machine', (t) => {
  const rows: string[] = [];
  for (const m of MEASURED) {
    const est = estimateStepMemory(spec(m.config, m), m.plan).totalBytes / MB;
    const ratio = est / m.mb;
    rows.push(`${m.name} ×${m.pairs} ${m.plan}: estimate ${est.toFixed(0)} MB, measured ${m.mb} MB (${((ratio - 1) * 100).toFixed(1)} %)`);
    assert.ok(Math.abs(ratio - 1) <= 0.1, rows.at(-1));
  }
  t.diagnostic(rows.join('; '));
});

test('plans: a tiny model keeps everything (no recomputation) under any real budget; a tight budget checkpoints more; none fits a budget below the weights', () => {
  const tiny = chooseStepMemoryPlan(spec(TINY, { pairs: 2, latent: 8, embed: [7, 32], rank: 4 }), 4096 * MB);
  assert.equal(tiny.plan, 'keep');
  assert.equal(tiny.fits, true);
  assert.equal(tiny.step.graph.checkpoints.length, 0, 'the tiny step has no checkpoint region');
  const s = spec(SD15S, { pairs: 1, latent: 32, embed: [77, 768], rank: 8 });
  const keep = estimateStepMemory(s, 'keep').totalBytes;
  const tight = chooseStepMemoryPlan(s, keep - 1);
  assert.notEqual(tight.plan, 'keep');
  assert.ok(tight.fits && tight.estimate.totalBytes < keep && tight.step.graph.checkpoints.length > 0);
  const none = chooseStepMemoryPlan(s, 100 * MB);
  assert.equal(none.plan, 'blocks');
  assert.equal(none.fits, false);
});

test('checkpointed blocks do not recompute a float16 weight\'s cast: the float32 weights stay resident once', () => {
  const s = spec(SD15S, { pairs: 1, latent: 16, embed: [77, 768], rank: 8, dtype: 'float16' });
  const keep = estimateStepMemory(s, 'keep').graph;
  const blocks = estimateStepMemory(s, 'blocks').graph;
  // (a few scalar constants differ; a second copy of the weights would be 150 MB)
  assert.ok(Math.abs(blocks.residentConstantBytes - keep.residentConstantBytes) < 4096, `${blocks.residentConstantBytes} vs ${keep.residentConstantBytes}`);
  assert.ok(keep.residentConstantBytes > 1.9 * keep.initializerBytes - 1e6, 'float32 copies of float16 weights');
});
