import { ShapesError } from './errors.ts';
import { bootstrapMeanInterval, mean, pairedDifferences, standardError, winRate, type Numbers } from './stats.ts';

/**
 * The evaluation report of MINIATURE.md. Arms (same initial noise in every arm, so samples are paired by index):
 * A plain CFG (base / base), B NPO-CFG (base / base + NPO), C DPO LoRA in both branches, D DPO / DPO + NPO,
 * X base / base + control LoRA. Paired differences: B−A (the NPO effect), D−C (NPO on top of DPO), X−A (the
 * control, should be ≈ 0) and C−A (DPO alone).
 */
export const ARMS = ['A', 'B', 'C', 'D', 'X'] as const;
export type Arm = (typeof ARMS)[number];
export const PAIRS = ['B-A', 'D-C', 'X-A', 'C-A'] as const;
export type Pair = (typeof PAIRS)[number];

/** Per-sample rewards of each arm evaluated at guidance scale w; arms that were not run are left out. */
export interface GuidanceResults {
  w: number;
  arms: Partial<Record<Arm, Numbers>>;
}

export interface ArmSummary {
  w: number;
  arm: Arm;
  mean: number;
  se: number;
  n: number;
}

export interface DifferenceSummary {
  w: number;
  pair: Pair;
  mean: number;
  se: number;
  ci95: [number, number];
  /** Fraction of pairs where the first arm of `pair` beats the second; ties count half. */
  win_rate: number;
}

export interface Report {
  arms: ArmSummary[];
  differences: DifferenceSummary[];
}

export interface ReportOptions {
  /** Bootstrap resamples for the 95% intervals (default 2000). */
  resamples?: number;
  /** Bootstrap seed (default 0): the same seed for every difference, so the report is reproducible. */
  seed?: number;
}

/** Summaries per (w, arm) and paired differences per (w, pair) for every pair whose two arms are present. */
export function buildReport(results: GuidanceResults[], options: ReportOptions = {}): Report {
  const report: Report = { arms: [], differences: [] };
  for (const { w, arms } of results) {
    if (!Number.isFinite(w)) throw new ShapesError('INVALID_ARGUMENT', `guidance scale w must be a finite number, got ${w}`);
    for (const name of Object.keys(arms)) {
      if (!(ARMS as readonly string[]).includes(name)) throw new ShapesError('INVALID_ARGUMENT', `unknown arm "${name}" at w = ${w}; arms are ${ARMS.join(', ')}`);
    }
    for (const arm of ARMS) {
      const values = arms[arm];
      if (values) report.arms.push({ w, arm, mean: mean(values), se: standardError(values), n: values.length });
    }
    for (const pair of PAIRS) {
      const [first, second] = pair.split('-') as [Arm, Arm];
      const better = arms[first];
      const baseline = arms[second];
      if (!better || !baseline) continue;
      if (better.length !== baseline.length) {
        throw new ShapesError('INVALID_ARGUMENT', `arms ${first} and ${second} at w = ${w} must be paired (same length), got ${better.length} and ${baseline.length}`);
      }
      const diff = pairedDifferences(baseline, better);
      report.differences.push({
        w,
        pair,
        mean: mean(diff),
        se: standardError(diff),
        ci95: bootstrapMeanInterval(diff, { resamples: options.resamples ?? 2000, seed: options.seed ?? 0, level: 0.95 }),
        win_rate: winRate(baseline, better),
      });
    }
  }
  return report;
}

function fmt(x: number, digits: number): string {
  const s = x.toFixed(digits);
  return x > 0 ? `+${s}` : s;
}

/** Two Markdown tables: mean reward ± SE per arm and w, then the paired differences. */
export function reportMarkdown(report: Report): string {
  const ws = [...new Set(report.arms.map((a) => a.w))];
  const arms = ARMS.filter((arm) => report.arms.some((a) => a.arm === arm));
  const lines = [
    '| w | ' + arms.map((arm) => `${arm} (n)`).join(' | ') + ' |',
    '|---|' + arms.map(() => '---|').join(''),
  ];
  for (const w of ws) {
    const cells = arms.map((arm) => {
      const s = report.arms.find((a) => a.w === w && a.arm === arm);
      return s ? `${s.mean.toFixed(4)} ± ${s.se.toFixed(4)} (${s.n})` : '–';
    });
    lines.push(`| ${w} | ${cells.join(' | ')} |`);
  }
  lines.push('', '| w | pair | mean ± SE (paired) | bootstrap 95% | win rate |', '|---|---|---|---|---|');
  for (const d of report.differences) {
    lines.push(`| ${d.w} | ${d.pair} | ${fmt(d.mean, 4)} ± ${d.se.toFixed(4)} | [${fmt(d.ci95[0], 4)}, ${fmt(d.ci95[1], 4)}] | ${(100 * d.win_rate).toFixed(1)}% |`);
  }
  return lines.join('\n') + '\n';
}
