import { DTYPES, numel, type DType } from './dtype.ts';
import { Value, type Attrs, type Graph } from './graph.ts';
import { normAxis } from './shape-inference.ts';

/** Either a Value or a plain number lifted to a scalar constant of the other operand's dtype. */
export type Operand = Value | number;

function graphOf(...xs: Operand[]): Graph {
  for (const x of xs) if (x instanceof Value) return x.graph;
  throw new Error('at least one operand must be a graph value');
}

function lift(g: Graph, x: Operand, like: DType): Value {
  return x instanceof Value ? x : g.scalar(x, like);
}

function dtypeOf(...xs: Operand[]): DType {
  for (const x of xs) if (x instanceof Value) return x.dtype;
  return 'float32';
}

function op1(op: string, x: Value, attrs: Attrs = {}): Value {
  return x.graph.node(op, [x], attrs)[0];
}

function op2(op: string, a: Operand, b: Operand): Value {
  const g = graphOf(a, b);
  const d = dtypeOf(a, b);
  return g.node(op, [lift(g, a, d), lift(g, b, d)])[0];
}

export const add = (a: Operand, b: Operand) => op2('Add', a, b);
export const sub = (a: Operand, b: Operand) => op2('Sub', a, b);
export const mul = (a: Operand, b: Operand) => op2('Mul', a, b);
export const div = (a: Operand, b: Operand) => op2('Div', a, b);
export const pow = (a: Operand, b: Operand) => op2('Pow', a, b);
export const max = (a: Operand, b: Operand) => op2('Max', a, b);
export const min = (a: Operand, b: Operand) => op2('Min', a, b);
export const equal = (a: Operand, b: Operand) => op2('Equal', a, b);
export const less = (a: Operand, b: Operand) => op2('Less', a, b);
export const greater = (a: Operand, b: Operand) => op2('Greater', a, b);
export const and = (a: Value, b: Value) => op2('And', a, b);

export const neg = (x: Value) => op1('Neg', x);
export const abs = (x: Value) => op1('Abs', x);
export const sign = (x: Value) => op1('Sign', x);
export const sqrt = (x: Value) => op1('Sqrt', x);
export const reciprocal = (x: Value) => op1('Reciprocal', x);
export const exp = (x: Value) => op1('Exp', x);
export const log = (x: Value) => op1('Log', x);
export const sigmoid = (x: Value) => op1('Sigmoid', x);
export const tanh = (x: Value) => op1('Tanh', x);
export const erf = (x: Value) => op1('Erf', x);
export const cos = (x: Value) => op1('Cos', x);
export const sin = (x: Value) => op1('Sin', x);
export const softplus = (x: Value) => op1('Softplus', x);
export const relu = (x: Value) => op1('Relu', x);
export const not = (x: Value) => op1('Not', x);
export const identity = (x: Value) => op1('Identity', x);

export const square = (x: Value) => mul(x, x);
export const silu = (x: Value) => mul(x, sigmoid(x));
/** log(sigmoid(x)) = −softplus(−x), stable for large |x|. */
export const logsigmoid = (x: Value) => neg(softplus(neg(x)));
/** Exact (erf) GELU. */
export const gelu = (x: Value) => mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));
export const quickGelu = (x: Value) => mul(x, sigmoid(mul(x, 1.702)));

export function cast(x: Value, to: DType): Value {
  if (x.dtype === to) return x;
  return op1('Cast', x, { to: DTYPES[to].onnx });
}

export function clip(x: Value, lo: number, hi: number): Value {
  const g = x.graph;
  return g.node('Clip', [x, g.scalar(lo, x.dtype), g.scalar(hi, x.dtype)])[0];
}

export function where(cond: Value, a: Operand, b: Operand): Value {
  const g = cond.graph;
  const d = dtypeOf(a, b);
  return g.node('Where', [cond, lift(g, a, d), lift(g, b, d)])[0];
}

export const matmul = (a: Value, b: Value) => a.graph.node('MatMul', [a, b])[0];

export function gemm(a: Value, b: Value, c: Value | null, opts: { transA?: boolean; transB?: boolean; alpha?: number; beta?: number } = {}): Value {
  const attrs: Attrs = {};
  if (opts.transA) attrs.transA = 1;
  if (opts.transB) attrs.transB = 1;
  if (opts.alpha !== undefined && opts.alpha !== 1) attrs.alpha = opts.alpha;
  if (opts.beta !== undefined && opts.beta !== 1) attrs.beta = opts.beta;
  return a.graph.node('Gemm', c ? [a, b, c] : [a, b], attrs)[0];
}

export interface ConvOptions {
  strides?: number[];
  pads?: number[];
  dilations?: number[];
  group?: number;
}

function convAttrs(o: ConvOptions & { output_padding?: number[] }): Attrs {
  const attrs: Attrs = {};
  for (const k of ['strides', 'pads', 'dilations', 'output_padding'] as const) if (o[k]) attrs[k] = o[k]!;
  if (o.group && o.group !== 1) attrs.group = o.group;
  return attrs;
}

export function conv(x: Value, w: Value, b: Value | null = null, o: ConvOptions = {}): Value {
  return x.graph.node('Conv', b ? [x, w, b] : [x, w], convAttrs(o))[0];
}

export function convTranspose(x: Value, w: Value, o: ConvOptions & { output_padding?: number[] } = {}): Value {
  return x.graph.node('ConvTranspose', [x, w], convAttrs(o))[0];
}

export const softmax = (x: Value, axis = -1) => op1('Softmax', x, { axis });

/** LayerNormalization over the trailing dims from `axis`; returns [y, mean, invStdDev]. */
export function layerNormFull(x: Value, scale: Value, bias: Value | null, axis = -1, epsilon = 1e-5): Value[] {
  return x.graph.node('LayerNormalization', bias ? [x, scale, bias] : [x, scale], { axis, epsilon }, { outputs: 3 });
}

export function layerNorm(x: Value, scale: Value, bias: Value | null, axis = -1, epsilon = 1e-5): Value {
  return layerNormFull(x, scale, bias, axis, epsilon)[0];
}

/**
 * Group normalization as Reshape [N, G, rest] + LayerNormalization(axis 2, unit scale) + Reshape + affine:
 * exact, and cheaper than ONNX GroupNormalization, which onnxruntime expands into ~30 nodes.
 */
export function groupNorm(x: Value, groups: number, weight: Value | null, bias: Value | null, epsilon = 1e-5): Value {
  const g = x.graph;
  const [n, c, ...spatial] = x.shape;
  if (c % groups) throw new Error(`groupNorm: ${c} channels are not divisible into ${groups} groups (value ${x.name})`);
  const perGroup = (c / groups) * numel(spatial);
  const grouped = reshape(x, [n, groups, perGroup]);
  const normed = layerNorm(grouped, full(g, [perGroup], 1), null, 2, epsilon);
  let y = reshape(normed, [...x.shape]);
  const affineShape = [c, ...spatial.map(() => 1)];
  if (weight) y = mul(y, reshape(weight, affineShape));
  if (bias) y = add(y, reshape(bias, affineShape));
  return y;
}

export function reshape(x: Value, shape: number[]): Value {
  const total = numel(x.shape);
  const known = shape.reduce((a, b) => (b === -1 ? a : a * b), 1);
  const resolved = shape.map((d) => (d === -1 ? total / known : d));
  if (resolved.length === x.rank && resolved.every((d, i) => d === x.shape[i])) return x;
  return x.graph.node('Reshape', [x, x.graph.ints(resolved)])[0];
}

export function transpose(x: Value, perm: number[]): Value {
  if (perm.every((p, i) => p === i)) return x;
  return op1('Transpose', x, { perm });
}

/** x with its last two axes swapped (a matrix transpose of every batch entry). */
export const swapLastAxes = (x: Value) => transpose(x, [...x.shape.keys()].map((i) => (i === x.rank - 2 ? x.rank - 1 : i === x.rank - 1 ? x.rank - 2 : i)));

export function concat(xs: Value[], axis: number): Value {
  if (xs.length === 1) return xs[0];
  return xs[0].graph.node('Concat', xs, { axis })[0];
}

export function split(x: Value, sizes: number[], axis: number): Value[] {
  return x.graph.node('Split', [x, x.graph.ints(sizes)], { axis }, { outputs: sizes.length });
}

export function chunk(x: Value, n: number, axis: number): Value[] {
  const d = x.shape[normAxis(axis, x.rank)];
  if (d % n) throw new Error(`chunk: dim ${d} of ${x.name} is not divisible by ${n}`);
  return split(x, Array(n).fill(d / n), axis);
}

export function slice(x: Value, axes: number[], starts: number[], ends: number[], steps?: number[]): Value {
  const g = x.graph;
  const ins = [x, g.ints(starts), g.ints(ends), g.ints(axes)];
  if (steps) ins.push(g.ints(steps));
  return g.node('Slice', ins)[0];
}

export function gather(x: Value, indices: Value, axis = 0): Value {
  return x.graph.node('Gather', [x, indices], { axis })[0];
}

export function unsqueeze(x: Value, axes: number[]): Value {
  return x.graph.node('Unsqueeze', [x, x.graph.ints(axes)])[0];
}

export function squeeze(x: Value, axes: number[]): Value {
  return x.graph.node('Squeeze', [x, x.graph.ints(axes)])[0];
}

export function expand(x: Value, shape: number[]): Value {
  if (shape.length === x.rank && shape.every((d, i) => d === x.shape[i])) return x;
  return x.graph.node('Expand', [x, x.graph.ints(shape)])[0];
}

/** Nearest-neighbour upsampling by integer factors (torch `interpolate(mode="nearest")` semantics). */
export function resizeNearest(x: Value, scales: number[]): Value {
  const g = x.graph;
  const sc = g.initializer(g.freshName('resize_scales'), { dtype: 'float32', shape: [scales.length], data: Float32Array.from(scales) });
  sc.constValues = scales;
  return g.node('Resize', [x, null, sc], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' })[0];
}

/** Constant zero padding; `pads` = [begin of each axis…, end of each axis…]. */
export function pad(x: Value, pads: number[]): Value {
  return x.graph.node('Pad', [x, x.graph.ints(pads)], { mode: 'constant' })[0];
}

function reduceOp(op: string, x: Value, axes: number[] | undefined, keepdims: boolean): Value {
  const g = x.graph;
  const ins = axes ? [x, g.ints(axes.map((a) => normAxis(a, x.rank)))] : [x];
  return g.node(op, ins, { keepdims: keepdims ? 1 : 0 })[0];
}

export const reduceSum = (x: Value, axes?: number[], keepdims = false) => reduceOp('ReduceSum', x, axes, keepdims);
export const reduceMean = (x: Value, axes?: number[], keepdims = false) => reduceOp('ReduceMean', x, axes, keepdims);
export const reduceMax = (x: Value, axes?: number[], keepdims = false) => reduceOp('ReduceMax', x, axes, keepdims);

export function argmax(x: Value, axis: number, keepdims = false): Value {
  return op1('ArgMax', x, { axis, keepdims: keepdims ? 1 : 0 });
}

/** A tensor of `shape` filled with `value`: a broadcast scalar, no bytes stored. */
export function full(g: Graph, shape: number[], value: number, dtype: DType = 'float32'): Value {
  return expand(g.scalar(value, dtype), shape);
}

/** x @ Wᵀ + b with a torch-layout Linear weight [out, in], for inputs of any rank ≥ 2. */
export function linear(x: Value, weight: Value, bias: Value | null = null): Value {
  const [outF, inF] = weight.shape;
  if (x.shape[x.rank - 1] !== inF) throw new Error(`linear: ${x} has ${x.shape[x.rank - 1]} features, weight ${weight} expects ${inF}`);
  if (x.rank === 2) return gemm(x, weight, bias, { transB: true });
  const lead = x.shape.slice(0, -1);
  const flat = reshape(x, [numel(lead), inF]);
  return reshape(gemm(flat, weight, bias, { transB: true }), [...lead, outF]);
}
