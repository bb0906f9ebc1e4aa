import { ShapesError } from './errors.ts';
import { Rng } from '@npo/graph';

/** Summary statistics for the experiment report. Inputs are any array of finite numbers. */
export type Numbers = ArrayLike<number>;

function checkValues(values: Numbers, what: string, minLength = 1): void {
  if (values.length < minLength) throw new ShapesError('INVALID_ARGUMENT', `${what} needs at least ${minLength} value(s), got ${values.length}`);
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new ShapesError('INVALID_ARGUMENT', `${what}: value ${i} is not a finite number (${values[i]})`);
  }
}

export function mean(values: Numbers): number {
  checkValues(values, 'mean');
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum / values.length;
}

/** Sample standard deviation (n − 1 in the denominator). */
export function sampleStd(values: Numbers): number {
  checkValues(values, 'sampleStd', 2);
  const m = mean(values);
  let ss = 0;
  for (let i = 0; i < values.length; i++) ss += (values[i] - m) ** 2;
  return Math.sqrt(ss / (values.length - 1));
}

/** Standard error of the mean: sample std / √n. */
export function standardError(values: Numbers): number {
  return sampleStd(values) / Math.sqrt(values.length);
}

function checkPaired(a: Numbers, b: Numbers): void {
  if (a.length !== b.length) throw new ShapesError('INVALID_ARGUMENT', `paired arrays must have equal lengths, got ${a.length} and ${b.length}`);
}

/** Element-wise b − a (the paired effect of b over a). */
export function pairedDifferences(a: Numbers, b: Numbers): Float64Array {
  checkPaired(a, b);
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = b[i] - a[i];
  return out;
}

/** Fraction of pairs where b beats a (b > a); ties count half. */
export function winRate(a: Numbers, b: Numbers): number {
  checkPaired(a, b);
  checkValues(a, 'winRate');
  let wins = 0;
  for (let i = 0; i < a.length; i++) wins += b[i] > a[i] ? 1 : b[i] === a[i] ? 0.5 : 0;
  return wins / a.length;
}

/** Quantile by linear interpolation between order statistics (numpy's default, "type 7"); `sorted` ascending. */
export function quantileSorted(sorted: Numbers, q: number): number {
  checkValues(sorted, 'quantile');
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

export interface BootstrapOptions {
  /** Number of resamples (default 2000). */
  resamples?: number;
  /** Seed of the resampling Rng (default 0), so the interval is reproducible. */
  seed?: number;
  /** Central coverage (default 0.95). */
  level?: number;
}

/**
 * Percentile bootstrap interval of the mean: `resamples` means of n draws with replacement (index = rng.int(n)),
 * then the (1 − level)/2 and (1 + level)/2 quantiles of those means (type 7).
 */
export function bootstrapMeanInterval(values: Numbers, options: BootstrapOptions = {}): [number, number] {
  const { resamples = 2000, seed = 0, level = 0.95 } = options;
  checkValues(values, 'bootstrapMeanInterval');
  if (!Number.isInteger(resamples) || resamples < 1) throw new ShapesError('INVALID_ARGUMENT', `resamples must be a positive integer, got ${resamples}`);
  if (!(level > 0 && level < 1)) throw new ShapesError('INVALID_ARGUMENT', `level must be in (0, 1), got ${level}`);
  const rng = new Rng(seed);
  const n = values.length;
  const means = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[rng.int(n)];
    means[b] = sum / n;
  }
  means.sort();
  return [quantileSorted(means, (1 - level) / 2), quantileSorted(means, (1 + level) / 2)];
}
