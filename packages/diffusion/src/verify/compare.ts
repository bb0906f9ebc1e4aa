import type { HostTensor } from '@npo/graph';
import { toFloat32 } from '@npo/graph';

/** One compared quantity, as `verify:reference` prints it. */
export interface Quantity {
  name: string;
  max_abs_err: number;
  max_rel_err: number;
  tolerance: string;
  ok: boolean;
}

type Numeric = HostTensor | Float32Array | number[] | number;

function values(x: Numeric): ArrayLike<number> {
  if (typeof x === 'number') return [x];
  if (Array.isArray(x) || x instanceof Float32Array) return x;
  return toFloat32(x);
}

function errors(actual: Numeric, expected: Numeric) {
  const a = values(actual);
  const e = values(expected);
  if (a.length !== e.length) throw new Error(`size mismatch: ${a.length} vs ${e.length}`);
  let abs = 0;
  let rel = 0;
  let maxRef = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - e[i]);
    if (!(d <= abs)) abs = Number.isNaN(d) ? Infinity : d;
    rel = Math.max(rel, d / Math.max(Math.abs(e[i]), 1e-12));
    maxRef = Math.max(maxRef, Math.abs(e[i]));
  }
  return { abs, rel, maxRef };
}

/** |actual − expected| ≤ atol everywhere. */
export function compareAbs(name: string, actual: Numeric, expected: Numeric, atol: number): Quantity {
  const { abs, rel } = errors(actual, expected);
  return { name, max_abs_err: abs, max_rel_err: rel, tolerance: `atol ${atol}`, ok: abs <= atol };
}

/** max |actual − expected| ≤ factor × max |expected| (gradient checks, scale-free). */
export function compareScaled(name: string, actual: Numeric, expected: Numeric, factor: number): Quantity {
  const { abs, rel, maxRef } = errors(actual, expected);
  return { name, max_abs_err: abs, max_rel_err: rel, tolerance: `${factor} × max|ref| = ${(factor * maxRef).toExponential(2)}`, ok: abs <= factor * maxRef };
}

/** Compare only where |mask| > threshold (first Adam step from own gradients: ≈ −lr·sign(g)). */
export function compareMasked(name: string, actual: HostTensor, expected: HostTensor, mask: HostTensor, threshold: number, atol: number): Quantity {
  const a = toFloat32(actual);
  const e = toFloat32(expected);
  const m = toFloat32(mask);
  let abs = 0;
  let rel = 0;
  for (let i = 0; i < a.length; i++) {
    if (Math.abs(m[i]) <= threshold) continue;
    const d = Math.abs(a[i] - e[i]);
    abs = Math.max(abs, d);
    rel = Math.max(rel, d / Math.max(Math.abs(e[i]), 1e-12));
  }
  return { name, max_abs_err: abs, max_rel_err: rel, tolerance: `atol ${atol} where |ref grad| > ${threshold}`, ok: abs <= atol };
}
