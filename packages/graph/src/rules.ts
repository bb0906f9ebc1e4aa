import type { GradContext, GradRule } from './autodiff.ts';
import { GradientError } from './autodiff.ts';
import type { Value } from './graph.ts';
import {
  add, and, cast, concat, convTranspose, conv, cos, div, equal, exp, expand, full, gemm, greater, less, log, matmul, mul, neg,
  not, pad, pow, reduceMean, reduceSum, reshape, sigmoid, sign, sin, slice, sub, swapLastAxes, transpose, unsqueeze, where,
} from './ops.ts';
import { convOutput, convParams, normAxis, sliceBounds } from './shape-inference.ts';

/** Ops whose outputs are piecewise constant or not floats: no gradient flows through them. */
export const NO_GRADIENT = new Set([
  'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Not', 'Sign', 'Floor', 'ArgMax', 'OneHot',
]);

/** The first output's incoming gradient; multi-output ops that use more read ctx.dy themselves. */
const dy0 = (c: GradContext): Value => {
  if (c.dy.slice(1).some((d) => d)) throw new GradientError(`${c.node.op} '${c.node.name}': gradients into its secondary outputs are not supported`);
  return c.dy[0]!;
};

function keepdimsShape(x: Value, axes: number[] | undefined): number[] {
  const ax = axes ?? x.shape.map((_, i) => i);
  return x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
}

function reduceAxes(c: GradContext): number[] | undefined {
  return c.x[1]?.constValues?.map((a) => normAxis(a, c.x[0]!.rank));
}

/** Gradient of a reduction, reshaped to keepdims form and broadcast back over the input. */
function spreadReduced(c: GradContext): Value {
  const x = c.x[0]!;
  return expand(reshape(dy0(c), keepdimsShape(x, reduceAxes(c))), [...x.shape]);
}

export const GRAD_RULES: Record<string, GradRule> = {
  Identity: (c) => [dy0(c)],
  Add: (c) => [dy0(c), dy0(c)],
  Sub: (c) => [dy0(c), c.needs[1] ? neg(dy0(c)) : null],
  Mul: (c) => [c.needs[0] ? mul(dy0(c), c.x[1]!) : null, c.needs[1] ? mul(dy0(c), c.x[0]!) : null],
  Div: (c) => [c.needs[0] ? div(dy0(c), c.x[1]!) : null, c.needs[1] ? neg(div(mul(dy0(c), c.y[0]), c.x[1]!)) : null],
  Pow: (c) => [
    c.needs[0] ? mul(dy0(c), mul(c.x[1]!, pow(c.x[0]!, sub(c.x[1]!, 1)))) : null,
    c.needs[1] ? mul(dy0(c), mul(c.y[0], log(c.x[0]!))) : null,
  ],
  Neg: (c) => [neg(dy0(c))],
  Abs: (c) => [mul(dy0(c), sign(c.x[0]!))],
  Sqrt: (c) => [div(mul(dy0(c), 0.5), c.y[0])],
  Reciprocal: (c) => [neg(mul(dy0(c), mul(c.y[0], c.y[0])))],
  Exp: (c) => [mul(dy0(c), c.y[0])],
  Log: (c) => [div(dy0(c), c.x[0]!)],
  Sigmoid: (c) => [mul(dy0(c), mul(c.y[0], sub(1, c.y[0])))],
  Tanh: (c) => [mul(dy0(c), sub(1, mul(c.y[0], c.y[0])))],
  Erf: (c) => [mul(dy0(c), mul(exp(neg(mul(c.x[0]!, c.x[0]!))), 2 / Math.sqrt(Math.PI)))],
  Cos: (c) => [neg(mul(dy0(c), sin(c.x[0]!)))],
  Sin: (c) => [mul(dy0(c), cos(c.x[0]!))],
  Softplus: (c) => [mul(dy0(c), sigmoid(c.x[0]!))],
  Relu: (c) => [where(greater(c.x[0]!, 0), dy0(c), 0)],
  Cast: (c) => [cast(dy0(c), c.x[0]!.dtype)],
  // torch semantics: the gradient passes where min ≤ x ≤ max.
  Clip: (c) => [where(and(not(less(c.x[0]!, c.x[1]!)), not(greater(c.x[0]!, c.x[2]!))), dy0(c), 0), null, null],
  // Ties split the gradient evenly, as torch.maximum/minimum do.
  Max: (c) => minMax(c, greater),
  Min: (c) => minMax(c, less),
  Where: (c) => [null, c.needs[1] ? where(c.x[0]!, dy0(c), 0) : null, c.needs[2] ? where(c.x[0]!, 0, dy0(c)) : null],

  MatMul: (c) => [c.needs[0] ? matmul(dy0(c), swapLastAxes(c.x[1]!)) : null, c.needs[1] ? matmul(swapLastAxes(c.x[0]!), dy0(c)) : null],
  Gemm: (c) => {
    const { transA, transB } = c.attrs;
    const alpha = (c.attrs.alpha as number) ?? 1;
    const beta = (c.attrs.beta as number) ?? 1;
    const [a, b] = c.x;
    const d = dy0(c);
    // dA = α·dY·op(B)ᵀ (transposed back when A was), dB = α·op(A)ᵀ·dY (likewise).
    const dA = c.needs[0] ? (transA ? gemm(b!, d, null, { transA: !!transB, transB: true, alpha }) : gemm(d, b!, null, { transB: !transB, alpha })) : null;
    const dB = c.needs[1] ? (transB ? gemm(d, a!, null, { transA: true, transB: !!transA, alpha }) : gemm(a!, d, null, { transA: !transA, alpha })) : null;
    return [dA, dB, c.needs[2] ? (beta === 1 ? d : mul(d, beta)) : null];
  },
  Conv: (c) => convGrad(c),
  Softmax: (c) => {
    const y = c.y[0];
    const d = dy0(c);
    const axis = (c.attrs.axis as number) ?? -1;
    return [mul(y, sub(d, reduceSum(mul(d, y), [axis], true)))];
  },
  LayerNormalization: (c) => {
    const [x, scale] = c.x;
    const [, mean, invStd] = c.y;
    if (!mean || !invStd) throw new GradientError(`LayerNormalization '${c.node.name}' was built without its Mean/InvStdDev outputs`);
    const d = dy0(c);
    const axis = normAxis((c.attrs.axis as number) ?? -1, x!.rank);
    const axes = [...x!.shape.keys()].filter((i) => i >= axis);
    const xhat = mul(sub(x!, mean), invStd);
    const dxhat = mul(d, scale!);
    const dx = c.needs[0]
      ? mul(invStd, sub(sub(dxhat, reduceMean(dxhat, axes, true)), mul(xhat, reduceMean(mul(dxhat, xhat), axes, true))))
      : null;
    return [dx, c.needs[1] ? mul(d, xhat) : null, c.needs[2] ? d : null];
  },

  Reshape: (c) => [reshape(dy0(c), [...c.x[0]!.shape])],
  Unsqueeze: (c) => [reshape(dy0(c), [...c.x[0]!.shape])],
  Squeeze: (c) => [reshape(dy0(c), [...c.x[0]!.shape])],
  Expand: (c) => [dy0(c)],
  Transpose: (c) => {
    const perm = (c.attrs.perm as number[]) ?? c.x[0]!.shape.map((_, i) => c.x[0]!.rank - 1 - i);
    const inv: number[] = [];
    perm.forEach((p, i) => (inv[p] = i));
    return [transpose(dy0(c), inv)];
  },
  Concat: (c) => {
    const axis = normAxis(c.attrs.axis as number, c.y[0].rank);
    let at = 0;
    return c.x.map((v, k) => {
      const s = at;
      at += v!.shape[axis];
      return c.needs[k] ? slice(dy0(c), [axis], [s], [at]) : null;
    });
  },
  Split: (c) => {
    const axis = normAxis((c.attrs.axis as number) ?? 0, c.x[0]!.rank);
    return [concat(c.y.map((y, k) => c.dy[k] ?? full(c.g, [...y.shape], 0, y.dtype)), axis), null];
  },
  Slice: (c) => {
    const x = c.x[0]!;
    const starts = c.x[1]!.constValues!;
    const ends = c.x[2]!.constValues!;
    const steps = c.x[4]?.constValues ?? starts.map(() => 1);
    if (steps.some((s) => s !== 1)) throw new GradientError(`Slice '${c.node.name}': gradients of strided slices are not supported`);
    const pads = Array(2 * x.rank).fill(0);
    for (const { axis, start, end } of sliceBounds(x.shape, starts, ends, c.x[3]?.constValues)) {
      pads[axis] = start;
      pads[axis + x.rank] = x.shape[axis] - Math.max(start, end); // an empty slice (end before start) still pads back to dim
    }
    return [pad(dy0(c), pads)];
  },
  Pad: (c) => {
    const x = c.x[0]!;
    const p = c.x[1]!.constValues!;
    if (p.some((v) => v < 0)) throw new GradientError(`Pad '${c.node.name}': negative pads have no gradient rule`);
    return [slice(dy0(c), [...x.shape.keys()], x.shape.map((_, i) => p[i]), x.shape.map((d, i) => p[i] + d))];
  },
  Gather: (c) => [c.needs[0] ? gatherGrad(c) : null, null],
  Resize: (c) => {
    const x = c.x[0]!;
    const scales = c.x[2]!.constValues!;
    if (x.rank !== 4 || scales[0] !== 1 || scales[1] !== 1 || scales.some((s) => !Number.isInteger(s)))
      throw new GradientError(`Resize '${c.node.name}': gradients only for integer spatial scales of NCHW tensors`);
    const [n, ch, h, w] = x.shape;
    const blocks = reshape(dy0(c), [n, ch, h, scales[2], w, scales[3]]);
    return [reduceSum(blocks, [3, 5]), null, null];
  },
  ReduceSum: (c) => [spreadReduced(c), null],
  ReduceMean: (c) => {
    const x = c.x[0]!;
    const axes = reduceAxes(c) ?? x.shape.map((_, i) => i);
    const count = axes.reduce((p, a) => p * x.shape[a], 1);
    return [div(spreadReduced(c), count), null];
  },
  ReduceMax: (c) => {
    const x = c.x[0]!;
    const keep = keepdimsShape(x, reduceAxes(c));
    const mask = cast(equal(x, reshape(c.y[0], keep)), x.dtype);
    const share = div(mask, reduceSum(mask, reduceAxes(c), true));
    return [mul(spreadReduced(c), share), null];
  },
};

function minMax(c: GradContext, wins: typeof greater): (Value | null)[] {
  const [a, b] = c.x;
  const d = dy0(c);
  const tie = mul(cast(equal(a!, b!), d.dtype), 0.5);
  const share = (p: Value, q: Value) => mul(d, add(cast(wins(p, q), d.dtype), tie));
  return [c.needs[0] ? share(a!, b!) : null, c.needs[1] ? share(b!, a!) : null];
}

function convGrad(c: GradContext): (Value | null)[] {
  const [x, w] = c.x;
  const d = dy0(c);
  const { strides, dilations: dil, pads, group } = convParams(c.attrs, x!.rank - 2);
  let dx: Value | null = null;
  if (c.needs[0]) {
    // ConvTranspose maps the output back onto the input grid; output_padding recovers rows the stride dropped.
    const natural = convOutput(d.shape, w!.shape, c.attrs, true);
    const outPad = x!.shape.slice(2).map((h, i) => h - natural[i + 2]);
    dx = convTranspose(d, w!, { strides, pads, dilations: dil, group, output_padding: outPad.some((p) => p) ? outPad : undefined });
  }
  let dw: Value | null = null;
  if (c.needs[1]) {
    // dW[o,c,k] = Σ_n,p dY[n,o,p]·X[n,c,p·s + k·d − pad]: a convolution of Xᵀ by dYᵀ with stride and dilation swapped.
    const [n, , ...xs] = x!.shape;
    const [cout, cg, ...ks] = w!.shape;
    const mg = cout / group;
    const ys = d.shape.slice(2);
    const xT = reshape(transpose(reshape(x!, [n, group, cg, ...xs]), [2, 1, 0, ...xs.map((_, i) => i + 3)]), [cg, group * n, ...xs]);
    const dT = reshape(transpose(reshape(d, [n, group, mg, ...ys]), [1, 2, 0, ...ys.map((_, i) => i + 3)]), [group * mg, n, ...ys]);
    const full_ = conv(xT, dT, null, { strides: dil, dilations: strides, pads, group });
    const cropped = full_.shape.slice(2).some((s, i) => s !== ks[i]) ? slice(full_, ks.map((_, i) => i + 2), ks.map(() => 0), ks) : full_;
    dw = transpose(cropped, [1, 0, ...ks.map((_, i) => i + 2)]);
  }
  const db = c.x[2] && c.needs[2] ? reduceSum(d, [0, ...d.shape.slice(2).map((_, i) => i + 2)]) : null;
  return [dx, dw, db];
}

function gatherGrad(c: GradContext): Value {
  const [data, indices] = c.x;
  const d = dy0(c);
  const axis = normAxis((c.attrs.axis as number) ?? 0, data!.rank);
  const ir = indices!.rank;
  const dataShape = data!.shape;
  // Move the indexed axis (and the indices' dims in dY) to the front, scatter-add rows, move it back.
  const rest = [...dataShape.slice(0, axis), ...dataShape.slice(axis + 1)];
  const permDy = [...Array(ir).keys()].map((i) => i + axis).concat([...Array(axis).keys()], [...Array(d.rank - axis - ir).keys()].map((i) => i + axis + ir));
  const updates = transpose(d, permDy);
  const idx = unsqueeze(indices!.dtype === 'int64' ? indices! : cast(indices!, 'int64'), [-1]);
  const zeros = full(c.g, [dataShape[axis], ...rest], 0, data!.dtype);
  const scattered = c.g.node('ScatterND', [zeros, idx, updates], { reduction: 'add' })[0];
  const back = [...Array(data!.rank).keys()].map((i) => (i < axis ? i + 1 : i === axis ? 0 : i));
  return transpose(scattered, back);
}
