/**
 * Ours vs PyTorch eager on the same step, same data, same machine, same thread count, one after the other:
 *   npx tsx bench/compare.ts <tiny|sd15s|sd15-256|sd15> [--threads N] [--steps N] [--plan keep|attention|blocks] [--baseline diffusers|torch1] [--rounds N]
 * Baseline `diffusers` (default): diffusers + PEFT on PyTorch 2 (bench/diffusers_step.py, the venv of
 * bench/setup-diffusers-env.sh: NPO_BENCH_PYTHON, default ~/.cache/npo-forge/bench-venv/bin/python);
 * `torch1`: Debian's torch 1.13 running bench/torch_step.py (BENCH_PYTHON, default /usr/bin/python3).
 * Prints the two bench lines, then {workload, threads, ratio_ms: ours/torch, ratio_rss: ours/torch,
 * loss_max_abs_diff}: the last field is the largest per-step loss difference, a check that both ran the same step.
 * With --rounds N the two alternate N times; the ratios are the median round's, each round's listed beside them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBenchArgs, type BenchLine } from './cli-args.ts';
import { BenchError, getWorkload, REPO_ROOT } from './workloads.ts';

const BASELINES = {
  diffusers: { python: process.env.NPO_BENCH_PYTHON ?? join(homedir(), '.cache/npo-forge/bench-venv/bin/python'), script: 'bench/diffusers_step.py' },
  torch1: { python: process.env.BENCH_PYTHON ?? '/usr/bin/python3', script: 'bench/torch_step.py' },
};

function runLine(cmd: string, args: string[]): BenchLine {
  const r = spawnSync(cmd, args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new BenchError(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`);
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) throw new BenchError(`${cmd} ${args.join(' ')} printed no JSON line`);
  console.log(line);
  return JSON.parse(line);
}

function main() {
  const args = parseBenchArgs(process.argv.slice(2));
  const w = getWorkload(args.workload);
  const common = [w.name, '--threads', String(args.threads), ...(args.steps ? ['--steps', String(args.steps)] : [])];
  const tsx = join(REPO_ROOT, 'node_modules/.bin/tsx');
  // Prepare and compile in their own process, so neither the graph build nor weight generation counts in peak RSS.
  runPrepare(tsx, w.name, args.plan);
  const base = BASELINES[args.baseline];
  if (!existsSync(base.python)) throw new BenchError(`${base.python} is missing: run bash bench/setup-diffusers-env.sh <diffusers checkout> (or choose --baseline torch1)`);
  const tmp = mkdtempSync(join(tmpdir(), 'npo-bench-'));
  const r = (x: number) => Math.round(x * 1000) / 1000;
  try {
    // Rounds alternate the two sides, so a slow spell of a shared or throttled machine lands on both.
    const rounds: { ms: number; rss: number; lossDiff: number }[] = [];
    for (let i = 0; i < args.rounds; i++) {
      const ours = runLine(tsx, ['bench/run.ts', ...common, '--plan', args.plan, ...(args.optimization ? ['--opt', args.optimization] : []), '--losses-out', join(tmp, 'ours.json')]);
      const torch = runLine(base.python, [base.script, ...common, '--losses-out', join(tmp, 'torch.json')]);
      const la: number[] = JSON.parse(readFileSync(join(tmp, 'ours.json'), 'utf8')).losses;
      const lb: number[] = JSON.parse(readFileSync(join(tmp, 'torch.json'), 'utf8')).losses;
      rounds.push({ ms: ours.ms_median / torch.ms_median, rss: ours.peak_rss_mb / torch.peak_rss_mb, lossDiff: Math.max(...la.map((x, k) => Math.abs(x - lb[k]))) });
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
    console.log(JSON.stringify({
      workload: w.name,
      baseline: args.baseline,
      threads: args.threads,
      ratio_ms: r(median(rounds.map((x) => x.ms))),
      ratio_rss: r(median(rounds.map((x) => x.rss))),
      loss_max_abs_diff: Number(Math.max(...rounds.map((x) => x.lossDiff)).toExponential(2)),
      ...(args.rounds > 1 && { rounds: args.rounds, ratio_ms_each: rounds.map((x) => r(x.ms)), ratio_rss_each: rounds.map((x) => r(x.rss)) }),
    }));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function runPrepare(tsx: string, name: string, plan: string) {
  const r = spawnSync(tsx, ['bench/run.ts', name, '--prepare-only', '--plan', plan], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new BenchError(`preparing ${name} failed (exit ${r.status ?? r.signal})`);
}

try {
  main();
} catch (e) {
  process.stderr.write(`${e instanceof BenchError ? `compare: ${e.message}` : (e as Error).stack ?? e}\n`);
  process.exit(1);
}
