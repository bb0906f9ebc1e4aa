import { numel, type HostTensor } from '../dtype.ts';
import { grad } from '../autodiff.ts';
import { Graph, type Value } from '../graph.ts';
import { mul, reduceSum } from '../ops.ts';
import { Session } from '../runner.ts';
import { Rng } from '../rng.ts';
import { serialize } from '../serialize.ts';

/** Deterministic N(0, scale²) samples for test inputs. */
export function seededNormal(n: number, seed: number, scale = 1): Float32Array {
  return new Rng(seed).fillNormal(new Float32Array(n), 0, scale);
}

export interface CheckInput {
  name: string;
  shape: number[];
  /** Values to use; default N(0,1) seeded by position. */
  data?: Float32Array | BigInt64Array;
  dtype?: 'float32' | 'int64';
  /** Map raw normals away from kinks or domains (e.g. positive for Log/Sqrt). */
  transform?: (x: number) => number;
  /** Whether to check this input's gradient (default: float inputs). */
  differentiate?: boolean;
}

export interface GradCheckOptions {
  build: (g: Graph, inputs: Value[]) => Value;
  inputs: CheckInput[];
  /** Finite-difference step, scaled by max(1, |x|). */
  step?: number;
  atol?: number;
  rtol?: number;
  seed?: number;
  /** Elements checked one by one; beyond that, random directions. */
  maxElements?: number;
}

export interface GradCheckResult {
  input: string;
  checked: number;
  failed: number;
  maxAbsErr: number;
  maxRelErr: number;
  worst: { index: number | string; analytic: number; numeric: number };
}

function prepare(opts: GradCheckOptions): HostTensor[] {
  return opts.inputs.map((inp, k) => {
    if (inp.dtype === 'int64') return { dtype: 'int64', shape: inp.shape, data: inp.data as BigInt64Array };
    const data = (inp.data as Float32Array | undefined)?.slice() ?? seededNormal(numel(inp.shape), (opts.seed ?? 7) * 1000 + k);
    if (inp.transform) for (let i = 0; i < data.length; i++) data[i] = inp.transform(data[i]);
    return { dtype: 'float32', shape: inp.shape, data };
  });
}

/**
 * Compares the compiled backward pass with central finite differences of the compiled forward pass,
 * both through onnxruntime-node in float32. The scalar checked is Σ out·R for a fixed random R.
 */
export async function gradCheck(opts: GradCheckOptions): Promise<GradCheckResult[]> {
  const feeds = prepare(opts);
  const diff = opts.inputs.map((inp) => inp.differentiate ?? inp.dtype !== 'int64');
  const makeGraph = (withGrad: boolean) => {
    const g = new Graph();
    const ins = opts.inputs.map((inp) => g.input(inp.name, inp.dtype ?? 'float32', inp.shape));
    const out = opts.build(g, ins);
    const proj = g.input('__proj', out.dtype, [...out.shape]);
    const loss = reduceSum(mul(out, proj));
    g.output('__loss', loss);
    if (withGrad) grad(loss, ins.filter((_, i) => diff[i])).forEach((d, i) => g.output(`__grad${i}`, d));
    return { g, outShape: [...out.shape] };
  };
  const fwd = makeGraph(false);
  const bwd = makeGraph(true);
  const proj: HostTensor = { dtype: 'float32', shape: fwd.outShape, data: seededNormal(numel(fwd.outShape), 99) };
  const fSess = await Session.create(serialize(fwd.g), { optimization: 'disabled', threads: 1 });
  const bSess = await Session.create(serialize(bwd.g), { optimization: 'disabled', threads: 1 });
  const all = (xs: HostTensor[]) => Object.fromEntries([...opts.inputs.map((inp, i) => [inp.name, xs[i]]), ['__proj', proj]]);
  const analytic = await bSess.run(all(feeds));
  const lossAt = async (xs: HostTensor[]) => (await fSess.run(all(xs)))['__loss'].data[0] as number;

  const step = opts.step ?? 1e-2;
  const atol = opts.atol ?? 1e-3;
  const rtol = opts.rtol ?? 1e-2;
  const maxEl = opts.maxElements ?? 48;
  const results: GradCheckResult[] = [];
  let gi = 0;
  for (let k = 0; k < feeds.length; k++) {
    if (!diff[k]) continue;
    const ga = analytic[`__grad${gi++}`].data as Float32Array;
    const x = feeds[k].data as Float32Array;
    const res: GradCheckResult = { input: opts.inputs[k].name, checked: 0, failed: 0, maxAbsErr: 0, maxRelErr: 0, worst: { index: -1, analytic: 0, numeric: 0 } };
    let worstExcess = -Infinity;
    const probe = async (dir: Float32Array, label: number | string, h: number) => {
      const plus = feeds.slice();
      const minus = feeds.slice();
      const xp = x.slice();
      const xm = x.slice();
      for (let i = 0; i < x.length; i++) {
        if (!dir[i]) continue;
        xp[i] += h * dir[i];
        xm[i] -= h * dir[i];
      }
      plus[k] = { ...feeds[k], data: xp };
      minus[k] = { ...feeds[k], data: xm };
      // Project the analytic gradient on the perturbation float32 actually applied, so rounding of x ± h cancels out.
      let an = 0;
      for (let i = 0; i < x.length; i++) if (dir[i]) an += (ga[i] * (xp[i] - xm[i])) / (2 * h);
      const num = ((await lossAt(plus)) - (await lossAt(minus))) / (2 * h);
      const abs = Math.abs(an - num);
      const excess = abs - (atol + rtol * Math.abs(num));
      res.checked++;
      res.maxAbsErr = Math.max(res.maxAbsErr, abs);
      res.maxRelErr = Math.max(res.maxRelErr, abs / Math.max(Math.abs(num), 1e-6));
      if (excess > worstExcess) {
        worstExcess = excess;
        res.worst = { index: label, analytic: an, numeric: num };
      }
      if (excess > 0) res.failed++;
    };
    if (x.length <= maxEl) {
      for (let i = 0; i < x.length; i++) {
        const dir = new Float32Array(x.length);
        dir[i] = 1;
        await probe(dir, i, step * Math.max(1, Math.abs(x[i])));
      }
    } else {
      for (let j = 0; j < maxEl; j++) {
        const dir = seededNormal(x.length, 5000 + j);
        let norm = 0;
        for (const v of dir) norm += v * v;
        const s = 1 / Math.sqrt(norm);
        for (let i = 0; i < dir.length; i++) dir[i] *= s;
        await probe(dir, `dir${j}`, step);
      }
    }
    results.push(res);
  }
  await fSess.release();
  await bSess.release();
  return results;
}

/** Throws with a readable report when any checked direction is out of tolerance. */
export async function assertGradients(opts: GradCheckOptions): Promise<GradCheckResult[]> {
  const results = await gradCheck(opts);
  const bad = results.filter((r) => r.failed > 0);
  if (bad.length)
    throw new Error(
      'gradient check failed:\n' +
        bad
          .map((r) => `  ${r.input}: ${r.failed}/${r.checked} out of tolerance, max abs err ${r.maxAbsErr.toExponential(2)}, worst at ${r.worst.index}: analytic ${r.worst.analytic} vs numeric ${r.worst.numeric}`)
          .join('\n'),
    );
  return results;
}
