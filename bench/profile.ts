/**
 * Where the step's time and memory go, with onnxruntime session options under our control:
 *   npx tsx bench/profile.ts <workload> [--threads N] [--steps N] [--opt LEVEL] [--no-arena] [--no-mem-pattern] [--prepacking] [--ops] [--shapes]
 * Prints the bench line for these options; with --ops, also the top op types by total time (onnxruntime's
 * profiler, timed steps only) to stderr. Run bench/run.ts <workload> --prepare-only first.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { hostTensor, type HostTensor } from '@npo/graph';
import { readOnnxruntimeProfile } from '../packages/graph/src/testing/onnxruntime-profile.ts';
import { adamStateName, STEP_INPUTS, updatedName } from '../packages/diffusion/src/objectives/step-graph-names.ts';
import { parseBenchArgs, summarize } from './cli-args.ts';
import { compileStep, initialStepState, stepOutputs } from './ours-step.ts';
import { getWorkload, buildWorkload, STEP_HYPERPARAMETERS } from './workloads.ts';

const flags = new Set(process.argv.slice(2).filter((a) => ['--no-arena', '--no-mem-pattern', '--ops', '--prepacking', '--shapes'].includes(a)));
const args = parseBenchArgs(process.argv.slice(2).filter((a) => !flags.has(a)));
// --shapes: by op type and result shape (which attention level, which conv), the 25 largest
const byShape = flags.has('--shapes');
const w = getWorkload(args.workload);
const p = buildWorkload(w);
const { modelPath, paramNames } = compileStep(p, args.plan, args.precision);

const opts: ort.InferenceSession.SessionOptions = {
  executionProviders: ['cpu'],
  graphOptimizationLevel: args.optimization ?? 'extended',
  intraOpNumThreads: args.threads,
  enableCpuMemArena: !flags.has('--no-arena'),
  enableMemPattern: !flags.has('--no-mem-pattern'),
  enableProfiling: flags.has('--ops') || byShape,
  profileFilePrefix: join(p.dir, 'ort_profile'),
  extra: { session: { disable_prepacking: flags.has('--prepacking') ? '0' : '1' } },
};
const warmup = STEP_HYPERPARAMETERS.warmupSteps;
const toOrt = (t: HostTensor) => new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, t.shape);

const mb = () => `${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`;
process.stderr.write(`[profile] peak RSS before session: ${mb()}\n`);
const session = await ort.InferenceSession.create(modelPath, opts);
process.stderr.write(`[profile] peak RSS after session creation: ${mb()}\n`);
const state = initialStepState(p, paramNames);
const outputs = stepOutputs(paramNames);
const steps = args.steps ?? w.defaultSteps;
const ms: number[] = [];
for (let i = 0; i < warmup + steps; i++) {
  const feeds: Record<string, ort.Tensor> = {};
  const all = { ...state, ...p.batch, [STEP_INPUTS.step]: hostTensor('float32', [], [i + 1]), [STEP_INPUTS.lr]: hostTensor('float32', [], [STEP_HYPERPARAMETERS.lr]) };
  for (const [k, v] of Object.entries(all)) feeds[k] = toOrt(v);
  const t0 = performance.now();
  const res = await session.run(feeds, outputs);
  for (const n of paramNames)
    for (const k of [n, adamStateName(n, 'm'), adamStateName(n, 'v')]) {
      const t = res[updatedName(k)];
      state[k] = { dtype: 'float32', shape: [...t.dims], data: t.data as Float32Array };
    }
  if (i >= warmup) ms.push(performance.now() - t0);
  if (i < 2) process.stderr.write(`[profile] peak RSS after step ${i + 1}: ${mb()}\n`);
}
if (flags.has('--ops') || byShape) {
  session.endProfiling();
  const { file, events, kernels } = readOnnxruntimeProfile(p.dir, 'ort_profile');
  rmSync(file);
  // Only the timed steps: drop everything before the first model_run after the warm-up.
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').map((e) => e.ts).sort((a, b) => a - b);
  const byOp = new Map<string, { us: number; n: number }>();
  let total = 0;
  for (const e of kernels) {
    if (e.ts < runs[warmup]) continue;
    const op = `${e.args?.op_name ?? '?'}${byShape ? ` ${JSON.stringify(Object.values(e.args?.output_type_shape?.[0] ?? {})[0] ?? [])}` : ''}`;
    const s = byOp.get(op) ?? { us: 0, n: 0 };
    s.us += e.dur;
    s.n++;
    byOp.set(op, s);
    total += e.dur;
  }
  const rows = [...byOp.entries()].sort((a, b) => b[1].us - a[1].us).slice(0, byShape ? 25 : 15);
  process.stderr.write(`op type              ms/step   share  nodes/step\n`);
  for (const [op, s] of rows)
    process.stderr.write(`${op.padEnd(byShape ? 44 : 20)} ${(s.us / 1000 / steps).toFixed(1).padStart(8)} ${((100 * s.us) / total).toFixed(1).padStart(6)}% ${(s.n / steps).toFixed(0).padStart(6)}\n`);
}
console.log(JSON.stringify(summarize(`${w.name}-profile`, args.threads, ms, process.resourceUsage().maxRSS)));
