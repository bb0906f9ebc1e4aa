/**
 * One NPO training step of our compiled graph on onnxruntime-node, timed:
 *   npm run bench -- <tiny|sd15s> [--threads N] [--steps N] [--opt all|extended|basic|disabled] [--precision fp32|fp16|bf16]
 * EXECUTION_PROVIDER=cuda times it on the CUDA provider (scripts/gpu-check.sh); --precision fp16/bf16 times the
 * mixed-precision step (on CPU fp16 runs with onnxruntime's inserted casts, slower than fp32; bf16 is refused).
 * Prints one JSON line {workload, threads, ms_median, ms_min, ms_max, peak_rss_mb}; progress goes to stderr.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseBenchArgs, summarize } from './cli-args.ts';
import { executionProviderFromEnv, Session } from '@npo/graph';
import { assertPrecisionSupported } from '../packages/diffusion/src/model/precision.ts';
import { compileStep, runSteps } from './ours-step.ts';
import { getWorkload, buildWorkload, STEP_HYPERPARAMETERS } from './workloads.ts';

async function main() {
  const args = parseBenchArgs(process.argv.slice(2));
  const base = getWorkload(args.workload);
  const workload = args.pairs && args.pairs !== base.pairs ? { ...base, name: `${base.name}-p${args.pairs}`, pairs: args.pairs } : base;
  const executionProvider = executionProviderFromEnv();
  assertPrecisionSupported(args.precision, executionProvider);
  const t0 = performance.now();
  const prepared = buildWorkload(workload);
  const compiled = compileStep(prepared, args.plan, args.precision);
  process.stderr.write(`[bench] ${workload.name}: ${compiled.built ? 'compiled' : 'reused'} ${compiled.modelPath} in ${(performance.now() - t0).toFixed(0)} ms\n`);
  if (args.prepareOnly) return;
  const session = await Session.create(compiled.modelPath, { threads: args.threads, optimization: args.optimization, executionProvider });
  const steps = args.steps ?? workload.defaultSteps;
  const r = await runSteps(session, prepared, compiled.paramNames, STEP_HYPERPARAMETERS.warmupSteps, steps);
  await session.release();
  if (args.lossesOut) writeFileSync(args.lossesOut, JSON.stringify({ losses: r.losses, grad_norms: r.gradNorms }));
  process.stderr.write(`[bench] losses ${r.losses.map((l) => l.toPrecision(6)).join(' ')}\n`);
  // the memory estimate of the graph just run (packages/diffusion step-memory.ts), beside the measured peak
  const estimate = JSON.parse(readFileSync(compiled.estimatePath, 'utf8')) as { totalBytes: number };
  console.log(JSON.stringify({ ...summarize(workload.name, args.threads, r.ms, process.resourceUsage().maxRSS), plan: args.plan, precision: args.precision, estimate_mb: Math.round(estimate.totalBytes / 2 ** 20), provider: executionProvider }));
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error && (e.name === 'BenchError' || e.name === 'PrecisionUnsupportedError') ? `bench: ${e.message}` : (e as Error).stack ?? e}\n`);
  process.exit(1);
});
