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

/**
 * Per-sample rewards of each arm evaluated at guidance scale w; arms that were not run are left out. `controls`
 * holds each control adapter's own rewards when arm X is their per-sample mean (see `meanOfControls`).
 */
export interface GuidanceResults {
  w: number;
  arms: Partial<Record<Arm, Numbers>>;
  controls?: Record<string, Numbers>;
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

/** One control adapter alone in the negative branch, against A. */
export interface ControlSummary extends Omit<DifferenceSummary, 'pair'> {
  control: string;
}

export interface Report {
  arms: ArmSummary[];
  differences: DifferenceSummary[];
  controls: ControlSummary[];
}

export interface ReportOptions {
  /** Bootstrap resamples for the 95% intervals (default 2000). */
  resamples?: number;
  /** Bootstrap seed (default 0): the same seed for every difference, so the report is reproducible. */
  seed?: number;
}

/** Summaries per (w, arm) and paired differences per (w, pair) for every pair whose two arms are present. */
export function buildReport(results: GuidanceResults[], options: ReportOptions = {}): Report {
  const report: Report = { arms: [], differences: [], controls: [] };
  const summarise = (w: number, baseline: Numbers, better: Numbers, what: string) => {
    if (better.length !== baseline.length) throw new ShapesError('INVALID_ARGUMENT', `${what} at w = ${w} must be paired (same length), got ${better.length} and ${baseline.length}`);
    const diff = pairedDifferences(baseline, better);
    return {
      mean: mean(diff),
      se: standardError(diff),
      ci95: bootstrapMeanInterval(diff, { resamples: options.resamples ?? 2000, seed: options.seed ?? 0, level: 0.95 }),
      win_rate: winRate(baseline, better),
    };
  };
  for (const { w, arms, controls } of results) {
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
      report.differences.push({ w, pair, ...summarise(w, baseline, better, `arms ${first} and ${second}`) });
    }
    for (const [control, values] of Object.entries(controls ?? {})) {
      if (!arms.A) throw new ShapesError('INVALID_ARGUMENT', `control "${control}" at w = ${w} needs arm A to compare against`);
      report.controls.push({ w, control, ...summarise(w, arms.A, values, `control ${control} and arm A`) });
    }
  }
  return report;
}

/**
 * Arm X as the per-sample mean of several control adapters' rewards. With a coin-flip control and its mirror (every
 * label flipped) the label-specific direction each one learns cancels, leaving what a random-label adapter does on
 * average — the question the control asks.
 */
export function meanOfControls(controls: Numbers[]): Float64Array {
  if (!controls.length) throw new ShapesError('INVALID_ARGUMENT', 'meanOfControls needs at least one control');
  const out = new Float64Array(controls[0].length);
  for (const c of controls) {
    if (c.length !== out.length) throw new ShapesError('INVALID_ARGUMENT', `controls must be paired (same length), got ${out.length} and ${c.length}`);
    for (let i = 0; i < out.length; i++) out[i] += c[i] / controls.length;
  }
  return out;
}

export interface Criterion {
  criterion: string;
  value: number | null;
  pass: boolean;
}

/**
 * MINIATURE.md's pass criteria on a report: B − A ≥ +0.015 at w = 4 and ≥ +0.025 at w = 7, each with its 95%
 * interval above 0, and |X − A| ≤ 0.003 at every w. A difference the report lacks fails with value null.
 */
export function miniatureCriteria(report: Report): Criterion[] {
  const find = (pair: Pair, w: number) => report.differences.find((d) => d.pair === pair && d.w === w);
  const gain = (w: number, min: number): Criterion => {
    const d = find('B-A', w);
    return { criterion: `B − A ≥ +${min} at w = ${w}, 95% interval above 0`, value: d?.mean ?? null, pass: !!d && d.mean >= min && d.ci95[0] > 0 };
  };
  const xs = report.differences.filter((d) => d.pair === 'X-A');
  const worst = xs.length ? xs.reduce((a, b) => (Math.abs(b.mean) > Math.abs(a.mean) ? b : a)) : undefined;
  return [
    gain(4, 0.015),
    gain(7, 0.025),
    { criterion: '|X − A| ≤ 0.003 at every w', value: worst?.mean ?? null, pass: !!worst && xs.every((d) => Math.abs(d.mean) <= 0.003) },
  ];
}

function fmt(x: number, digits: number): string {
  const s = x.toFixed(digits);
  return x > 0 ? `+${s}` : s;
}

const differenceCells = (d: Omit<DifferenceSummary, 'pair'>) =>
  `${fmt(d.mean, 4)} ± ${d.se.toFixed(4)} | [${fmt(d.ci95[0], 4)}, ${fmt(d.ci95[1], 4)}] | ${(100 * d.win_rate).toFixed(1)}%`;

/** Markdown tables: mean reward ± SE per arm and w, the paired differences, each control, and `criteria` if given. */
export function reportMarkdown(report: Report & { criteria?: Criterion[] }): string {
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
    lines.push(`| ${d.w} | ${d.pair} | ${differenceCells(d)} |`);
  }
  if (report.controls.length) {
    lines.push('', 'Each control adapter alone (arm X is their per-sample mean):', '', '| w | control − A | mean ± SE (paired) | bootstrap 95% | win rate |', '|---|---|---|---|---|');
    for (const c of report.controls) {
      lines.push(`| ${c.w} | ${c.control} | ${differenceCells(c)} |`);
    }
  }
  if (report.criteria?.length) {
    lines.push('', '| MINIATURE.md criterion | measured | |', '|---|---|---|');
    for (const c of report.criteria) lines.push(`| ${c.criterion} | ${c.value === null ? '–' : fmt(c.value, 4)} | ${c.pass ? 'pass' : 'FAIL'} |`);
  }
  return lines.join('\n') + '\n';
}
