import { STEP_MEMORY_PLAN_NAMES, type StepMemoryPlanName } from '../packages/diffusion/src/memory/step-memory-plans.ts';
import { PRECISIONS, type Precision } from '@npo/contracts';
import { BenchError } from './workloads.ts';

export interface BenchArgs {
  workload: string | undefined;
  threads: number;
  steps: number | undefined;
  /** onnxruntime graph optimization level; undefined: Session's default (the trainer's: 'extended' on CPU) */
  optimization: 'disabled' | 'basic' | 'extended' | 'all' | undefined;
  /** write per-step losses and grad norms here (JSON), for the cross-check in compare.ts */
  lossesOut: string | undefined;
  /** only prepare data and compile the artifact, time nothing */
  prepareOnly: boolean;
  /** compare.ts: diffusers + PEFT on PyTorch 2 (bench/diffusers_step.py) or Debian's torch 1.13 (bench/torch_step.py) */
  baseline: 'diffusers' | 'torch1';
  /** what the step keeps for its backward (packages/diffusion step-memory-plans.ts); default 'attention', main's graph before plans */
  plan: StepMemoryPlanName;
  /** pairs per step instead of the workload's (the workload's data folder gets a -p<N> suffix) */
  pairs: number | undefined;
  /** mixed precision of the step (the `precision` hyperparameter); default fp32 */
  precision: Precision;
  /** compare.ts: ours and the baseline alternate this many times (ratios: the median round's) */
  rounds: number;
}

const LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;

function positiveInt(flag: string, v: string | undefined): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new BenchError(`${flag} needs a positive integer, got '${v ?? ''}'`);
  return n;
}

/** `<workload> [--threads N] [--steps N] [--opt LEVEL] [--losses-out FILE] [--prepare-only] [--plan keep|attention|blocks] [--pairs N] [--precision fp32|fp16|bf16] [--rounds N]` */
export function parseBenchArgs(argv: string[]): BenchArgs {
  const a: BenchArgs = { workload: undefined, threads: 1, steps: undefined, optimization: undefined, lossesOut: undefined, prepareOnly: false, baseline: 'diffusers', plan: 'attention', pairs: undefined, precision: 'fp32', rounds: 1 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--threads') a.threads = positiveInt(arg, argv[++i]);
    else if (arg === '--steps') a.steps = positiveInt(arg, argv[++i]);
    else if (arg === '--opt') {
      const v = argv[++i] as NonNullable<BenchArgs['optimization']>;
      if (!LEVELS.includes(v)) throw new BenchError(`--opt must be one of ${LEVELS.join(', ')}, got '${v ?? ''}'`);
      a.optimization = v;
    } else if (arg === '--losses-out') a.lossesOut = argv[++i];
    else if (arg === '--prepare-only') a.prepareOnly = true;
    else if (arg === '--pairs') a.pairs = positiveInt(arg, argv[++i]);
    else if (arg === '--rounds') a.rounds = positiveInt(arg, argv[++i]);
    else if (arg === '--plan') {
      const v = argv[++i] as StepMemoryPlanName;
      if (!STEP_MEMORY_PLAN_NAMES.includes(v)) throw new BenchError(`--plan must be one of ${STEP_MEMORY_PLAN_NAMES.join(', ')}, got '${v ?? ''}'`);
      a.plan = v;
    }
    else if (arg === '--precision') {
      const v = argv[++i] as Precision;
      if (!PRECISIONS.includes(v)) throw new BenchError(`--precision must be one of ${PRECISIONS.join(', ')}, got '${v ?? ''}'`);
      a.precision = v;
    }
    else if (arg === '--baseline') {
      const v = argv[++i];
      if (v !== 'diffusers' && v !== 'torch1') throw new BenchError(`--baseline must be diffusers or torch1, got '${v ?? ''}'`);
      a.baseline = v;
    }
    else if (arg.startsWith('--')) throw new BenchError(`unknown option ${arg}`);
    else if (a.workload === undefined) a.workload = arg;
    else throw new BenchError(`unexpected argument '${arg}'`);
  }
  return a;
}

export interface BenchLine {
  workload: string;
  threads: number;
  ms_median: number;
  ms_min: number;
  ms_max: number;
  peak_rss_mb: number;
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

export function summarize(workload: string, threads: number, ms: number[], peakRssKb: number): BenchLine {
  const s = [...ms].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { workload, threads, ms_median: round(median), ms_min: round(s[0]), ms_max: round(s[s.length - 1]), peak_rss_mb: round(peakRssKb / 1024, 1) };
}
