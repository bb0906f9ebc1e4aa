/**
 * The memory estimate of one training step (packages/diffusion step-memory.ts), per memory plan, without weights:
 *   npx tsx bench/memory-estimate.ts <workload | unet config.json> [--pairs N] [--latent N] [--dtype float16|float32] [--rank N] [--budget-mb N] [--live N]
 * Prints one JSON line per plan, and the plan the worker would take for --budget-mb (default: this machine's).
 * --live N: also the N largest values alive at each plan's simulated peak (valuesLiveAtPeak), and their bytes by op.
 */
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { defaultMemoryBudgetMb } from '@npo/contracts';
import { valueBytes, valuesLiveAtPeak, type Graph, type Value } from '@npo/graph';
import { DEFAULT_TARGETS, firstFitting, parseUNetConfig, plannedSteps, stepSpecFromConfig } from '../packages/diffusion/src/index.ts';
import { WORKLOADS } from './workloads.ts';

const argv = process.argv.slice(2);
const flag = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const what = argv[0];
if (!what) throw new Error('usage: memory-estimate.ts <workload | unet config.json> [--pairs N] [--latent N] [--dtype float16|float32] [--rank N] [--budget-mb N]');
const w = WORKLOADS[what];
const rawConfig = w ? w.unetConfig : JSON.parse(readFileSync(what, 'utf8'));
const config = parseUNetConfig(rawConfig);
const latent = Number(flag('--latent') ?? (w ? w.latentShape[1] : config.sample_size));
const pairs = Number(flag('--pairs') ?? (w ? w.pairs : 1));
const dtype = (flag('--dtype') ?? (w && 'randomSeed' in w.weights ? (w.weights.dtype ?? 'float32') : 'float16')) as 'float16' | 'float32';
const rank = Number(flag('--rank') ?? (w ? w.loraRank : 8));
const budgetMb = Number(flag('--budget-mb') ?? defaultMemoryBudgetMb(totalmem()));
const liveCount = Number(flag('--live') ?? 0);
const spec = stepSpecFromConfig({
  config, weightsDtype: dtype, pairs, latentShape: [config.in_channels, latent, latent], embedShape: w ? w.embedShape : [77, config.cross_attention_dim],
  lora: { rank, alpha: rank, targets: DEFAULT_TARGETS },
});
const mb = (b: number) => Math.round(b / 2 ** 20);
const planned = [...plannedSteps(spec)];
for (const { plan, estimate: e, step } of planned) {
  console.log(JSON.stringify({
    model: what, pairs, latent, dtype, plan, estimate_mb: mb(e.totalBytes), initializers_mb: mb(e.graph.initializerBytes),
    resident_mb: mb(e.graph.residentConstantBytes), inputs_mb: mb(e.graph.inputBytes), activations_mb: mb(e.graph.peakActivationBytes),
  }));
  if (liveCount) printLive(plan, step.graph);
}
const choice = firstFitting(planned, budgetMb * 2 ** 20);
console.log(JSON.stringify({ budget_mb: budgetMb, chosen: choice.plan, fits: choice.fits, estimate_mb: mb(choice.estimate.totalBytes) }));

function printLive(plan: string, graph: Graph) {
  const producer = new Map<Value, string>();
  for (const n of graph.nodes) for (const o of n.outputs) producer.set(o, n.op);
  const live = valuesLiveAtPeak(graph);
  const byOp = new Map<string, number>();
  for (const v of live) byOp.set(producer.get(v)!, (byOp.get(producer.get(v)!) ?? 0) + valueBytes(v));
  const top = [...byOp].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([op, b]) => `${op} ${(b / 2 ** 20).toFixed(1)}`);
  console.log(`  live at the ${plan} peak, MB by op: ${top.join(', ')}`);
  for (const v of live.slice(0, liveCount)) console.log(`  ${(valueBytes(v) / 2 ** 20).toFixed(1).padStart(8)} MB  ${producer.get(v)!.padEnd(12)} ${v}`);
}
