import { DTYPES, isFloat, numel, type DType } from './dtype.ts';
import type { Attrs, Value } from './graph.ts';

type Info = { dtype: DType; shape: number[] };
type Rule = (inputs: (Value | null)[], attrs: Attrs, outputs: number) => Info[];

function fail(msg: string): never {
  throw new Error(msg);
}

export function broadcastShapes(...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const k = s.length - rank + i;
      const x = k >= 0 ? s[k] : 1;
      if (x !== 1) {
        if (d !== 1 && d !== x) fail(`shapes [${shapes.map((s) => s.join(',')).join('] and [')}] do not broadcast`);
        d = x;
      }
    }
    out.push(d);
  }
  return out;
}

export function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) fail(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Each sliced axis, normalized, with its start and end clamped into [0, dim] as ONNX Slice does. */
export function sliceBounds(shape: readonly number[], starts: number[], ends: number[], axes?: number[]): { axis: number; start: number; end: number }[] {
  return (axes ?? starts.map((_, i) => i)).map((a0, i) => {
    const axis = normAxis(a0, shape.length);
    const dim = shape[axis];
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
    return { axis, start: clamp(starts[i]), end: clamp(ends[i]) };
  });
}

function constOf(v: Value | null, what: string): number[] {
  if (!v?.constValues) fail(`${what} must be a constant (static shapes)`);
  return v.constValues;
}

function sameDtype(inputs: (Value | null)[], n = inputs.length): DType {
  const d = inputs[0]!.dtype;
  for (let i = 1; i < n; i++) if (inputs[i] && inputs[i]!.dtype !== d) fail(`dtypes differ: ${inputs.map((v) => v?.dtype).join(', ')}`);
  return d;
}

const unary: Rule = ([x]) => [{ dtype: x!.dtype, shape: [...x!.shape] }];
const floatUnary: Rule = ([x]) => {
  if (!isFloat(x!.dtype)) fail(`needs a float input, got ${x!.dtype}`);
  return [{ dtype: x!.dtype, shape: [...x!.shape] }];
};
const binary: Rule = (ins) => [{ dtype: sameDtype(ins), shape: broadcastShapes(ins[0]!.shape, ins[1]!.shape) }];
const compare: Rule = (ins) => [{ dtype: 'bool', shape: (sameDtype(ins), broadcastShapes(ins[0]!.shape, ins[1]!.shape)) }];

function reduce(ins: (Value | null)[], attrs: Attrs): Info[] {
  const x = ins[0]!;
  const axes = ins[1] ? constOf(ins[1], 'axes').map((a) => normAxis(a, x.rank)) : x.shape.map((_, i) => i);
  const keep = attrs.keepdims === undefined ? 1 : attrs.keepdims;
  const shape: number[] = [];
  x.shape.forEach((d, i) => {
    if (!axes.includes(i)) shape.push(d);
    else if (keep) shape.push(1);
  });
  return [{ dtype: x.dtype, shape }];
}

function matmulShape(a: readonly number[], b: readonly number[]): number[] {
  if (a.length < 2 || b.length < 2) fail('MatMul operands need rank ≥ 2 here (reshape vectors to [1,n] or [n,1])');
  const [m, k] = a.slice(-2);
  const [k2, n] = b.slice(-2);
  if (k !== k2) fail(`inner dimensions differ (${k} vs ${k2})`);
  return [...broadcastShapes(a.slice(0, -2), b.slice(0, -2)), m, n];
}

/** A Conv/ConvTranspose node's strides, dilations, pads and group, with ONNX's defaults filled in. */
export function convParams(attrs: Attrs, spatial: number): { strides: number[]; dilations: number[]; pads: number[]; group: number } {
  return {
    strides: (attrs.strides as number[]) ?? Array(spatial).fill(1),
    dilations: (attrs.dilations as number[]) ?? Array(spatial).fill(1),
    pads: (attrs.pads as number[]) ?? Array(2 * spatial).fill(0),
    group: (attrs.group as number) ?? 1,
  };
}

export function convOutput(x: readonly number[], w: readonly number[], attrs: Attrs, transpose: boolean): number[] {
  const spatial = x.length - 2;
  const { strides, dilations: dil, pads, group } = convParams(attrs, spatial);
  const out = [x[0]];
  if (!transpose) {
    if (x[1] !== w[1] * group) fail(`input has ${x[1]} channels, weight expects ${w[1]} × group ${group}`);
    if (w[0] % group) fail(`output channels ${w[0]} not divisible by group ${group}`);
    out.push(w[0]);
    for (let i = 0; i < spatial; i++) {
      const o = Math.floor((x[i + 2] + pads[i] + pads[i + spatial] - dil[i] * (w[i + 2] - 1) - 1) / strides[i]) + 1;
      if (o < 1) fail(`spatial dim ${i} shrinks to ${o}`);
      out.push(o);
    }
  } else {
    if (x[1] !== w[0]) fail(`input has ${x[1]} channels, transposed weight expects ${w[0]}`);
    const op = (attrs.output_padding as number[]) ?? Array(spatial).fill(0);
    out.push(w[1] * group);
    for (let i = 0; i < spatial; i++)
      out.push(strides[i] * (x[i + 2] - 1) + op[i] + dil[i] * (w[i + 2] - 1) + 1 - pads[i] - pads[i + spatial]);
  }
  return out;
}

export const SHAPE_RULES: Record<string, Rule> = {
  Identity: unary,
  Neg: unary,
  Abs: unary,
  Sign: unary,
  Relu: unary,
  Sqrt: floatUnary,
  Reciprocal: floatUnary,
  Exp: floatUnary,
  Log: floatUnary,
  Sigmoid: floatUnary,
  Tanh: floatUnary,
  Erf: floatUnary,
  Cos: floatUnary,
  Sin: floatUnary,
  Softplus: floatUnary,
  Floor: floatUnary,
  Not: unary,
  Add: binary,
  Sub: binary,
  Mul: binary,
  Div: binary,
  Pow: (ins) => [{ dtype: ins[0]!.dtype, shape: broadcastShapes(ins[0]!.shape, ins[1]!.shape) }],
  Max: binary,
  Min: binary,
  And: binary,
  Or: binary,
  Equal: compare,
  Less: compare,
  Greater: compare,
  LessOrEqual: compare,
  GreaterOrEqual: compare,
  Where: ([c, a, b]) => {
    if (c!.dtype !== 'bool') fail('condition must be bool');
    return [{ dtype: sameDtype([a, b]), shape: broadcastShapes(c!.shape, a!.shape, b!.shape) }];
  },
  Cast: ([x], attrs) => [{ dtype: dtypeOfOnnx(attrs.to as number), shape: [...x!.shape] }],
  Clip: (ins) => [{ dtype: sameDtype(ins), shape: [...ins[0]!.shape] }],
  MatMul: (ins) => [{ dtype: sameDtype(ins), shape: matmulShape(ins[0]!.shape, ins[1]!.shape) }],
  Gemm: (ins, attrs) => {
    const [a, b, c] = ins;
    if (a!.rank !== 2 || b!.rank !== 2) fail('Gemm operands must be rank 2');
    const [m, k] = attrs.transA ? [a!.shape[1], a!.shape[0]] : a!.shape;
    const [k2, n] = attrs.transB ? [b!.shape[1], b!.shape[0]] : b!.shape;
    if (k !== k2) fail(`inner dimensions differ (${k} vs ${k2})`);
    if (c) broadcastShapes(c.shape, [m, n]).forEach((d, i) => d !== [m, n][i] && fail(`C [${c.shape}] does not broadcast to [${m},${n}]`));
    return [{ dtype: sameDtype(ins), shape: [m, n] }];
  },
  Conv: (ins, attrs) => {
    const [x, w, b] = ins;
    if (x!.rank !== w!.rank || x!.rank < 3) fail('input and weight ranks must match (N,C,spatial…)');
    if (b && (b.rank !== 1 || b.shape[0] !== w!.shape[0])) fail(`bias must be [${w!.shape[0]}]`);
    return [{ dtype: sameDtype(ins), shape: convOutput(x!.shape, w!.shape, attrs, false) }];
  },
  ConvTranspose: (ins, attrs) => [{ dtype: sameDtype(ins), shape: convOutput(ins[0]!.shape, ins[1]!.shape, attrs, true) }],
  Softmax: ([x], attrs) => (normAxis((attrs.axis as number) ?? -1, x!.rank), [{ dtype: x!.dtype, shape: [...x!.shape] }]),
  LayerNormalization: (ins, attrs, n) => {
    const [x, scale, bias] = ins;
    const axis = normAxis((attrs.axis as number) ?? -1, x!.rank);
    const normShape = x!.shape.slice(axis);
    for (const p of [scale, bias])
      if (p && broadcastShapes(p.shape, normShape).join() !== normShape.join()) fail(`scale/bias [${p.shape}] must broadcast to [${normShape}]`);
    const stat = x!.shape.map((d, i) => (i < axis ? d : 1));
    const infos: Info[] = [{ dtype: x!.dtype, shape: [...x!.shape] }, { dtype: 'float32', shape: stat }, { dtype: 'float32', shape: stat }];
    return infos.slice(0, n);
  },
  Reshape: ([x, s]) => {
    const shape = constOf(s, 'shape');
    if (shape.some((d) => d <= 0)) fail(`give Reshape a fully static shape (got [${shape}])`);
    const a = numel(x!.shape);
    const b = numel(shape);
    if (a !== b) fail(`cannot reshape ${a} elements to [${shape}]`);
    return [{ dtype: x!.dtype, shape }];
  },
  Transpose: ([x], attrs) => {
    const perm = (attrs.perm as number[]) ?? x!.shape.map((_, i) => x!.rank - 1 - i);
    if (perm.length !== x!.rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) fail(`perm [${perm}] is not a permutation of rank ${x!.rank}`);
    return [{ dtype: x!.dtype, shape: perm.map((p) => x!.shape[p]) }];
  },
  Concat: (ins, attrs) => {
    const axis = normAxis(attrs.axis as number, ins[0]!.rank);
    const shape = [...ins[0]!.shape];
    shape[axis] = 0;
    for (const v of ins) {
      if (v!.rank !== shape.length || v!.shape.some((d, i) => i !== axis && d !== shape[i])) fail(`operands differ outside axis ${axis}`);
      shape[axis] += v!.shape[axis];
    }
    return [{ dtype: sameDtype(ins), shape }];
  },
  Split: ([x, split], attrs, n) => {
    const axis = normAxis((attrs.axis as number) ?? 0, x!.rank);
    const sizes = constOf(split, 'split');
    if (sizes.length !== n || sizes.reduce((a, b) => a + b, 0) !== x!.shape[axis]) fail(`split [${sizes}] does not cover dim ${x!.shape[axis]} in ${n} parts`);
    return sizes.map((s) => ({ dtype: x!.dtype, shape: x!.shape.map((d, i) => (i === axis ? s : d)) }));
  },
  Slice: ([x, starts, ends, axes, steps]) => {
    const st = constOf(starts, 'starts');
    const en = constOf(ends, 'ends');
    const ax = axes ? constOf(axes, 'axes') : undefined;
    const sp = steps ? constOf(steps, 'steps') : st.map(() => 1);
    const bounds = sliceBounds(x!.shape, st, en, ax);
    if (bounds.some((_, i) => sp[i] <= 0)) fail('only positive slice steps are supported');
    const shape = [...x!.shape];
    bounds.forEach(({ axis, start, end }, i) => (shape[axis] = Math.max(0, Math.ceil((end - start) / sp[i]))));
    return [{ dtype: x!.dtype, shape }];
  },
  Gather: ([x, idx], attrs) => {
    const axis = normAxis((attrs.axis as number) ?? 0, x!.rank);
    if (idx!.dtype !== 'int64' && idx!.dtype !== 'int32') fail('indices must be int64 or int32');
    return [{ dtype: x!.dtype, shape: [...x!.shape.slice(0, axis), ...idx!.shape, ...x!.shape.slice(axis + 1)] }];
  },
  ScatterND: ([x]) => [{ dtype: x!.dtype, shape: [...x!.shape] }],
  Unsqueeze: ([x, axes]) => {
    const ax = constOf(axes, 'axes');
    const rank = x!.rank + ax.length;
    const norm = ax.map((a) => normAxis(a, rank));
    const shape: number[] = [];
    let k = 0;
    for (let i = 0; i < rank; i++) shape.push(norm.includes(i) ? 1 : x!.shape[k++]);
    return [{ dtype: x!.dtype, shape }];
  },
  Squeeze: ([x, axes]) => {
    const ax = constOf(axes, 'axes').map((a) => normAxis(a, x!.rank));
    for (const a of ax) if (x!.shape[a] !== 1) fail(`cannot squeeze axis ${a} of size ${x!.shape[a]}`);
    return [{ dtype: x!.dtype, shape: x!.shape.filter((_, i) => !ax.includes(i)) }];
  },
  Expand: ([x, s]) => [{ dtype: x!.dtype, shape: broadcastShapes(x!.shape, constOf(s, 'shape')) }],
  Resize: ([x, , scales]) => {
    const sc = constOf(scales, 'scales');
    if (sc.length !== x!.rank) fail(`scales [${sc}] must have one entry per dimension`);
    return [{ dtype: x!.dtype, shape: x!.shape.map((d, i) => Math.floor(d * sc[i])) }];
  },
  Pad: ([x, pads]) => {
    const p = constOf(pads, 'pads');
    if (p.length !== 2 * x!.rank) fail(`pads needs ${2 * x!.rank} entries`);
    return [{ dtype: x!.dtype, shape: x!.shape.map((d, i) => d + p[i] + p[i + x!.rank]) }];
  },
  ReduceSum: reduce,
  ReduceMean: reduce,
  ReduceMax: reduce,
  ReduceSumSquare: reduce,
  ArgMax: ([x], attrs) => {
    const axis = normAxis((attrs.axis as number) ?? 0, x!.rank);
    const keep = attrs.keepdims === undefined ? 1 : attrs.keepdims;
    return [{ dtype: 'int64', shape: x!.shape.flatMap((d, i) => (i === axis ? (keep ? [1] : []) : [d])) }];
  },
  OneHot: ([idx, depth], attrs) => {
    const d = constOf(depth, 'depth')[0];
    const rank = idx!.rank + 1;
    const axis = normAxis((attrs.axis as number) ?? -1, rank);
    const shape = [...idx!.shape];
    shape.splice(axis, 0, d);
    return [{ dtype: 'float32', shape }];
  },
};

function dtypeOfOnnx(code: number): DType {
  const d = (Object.keys(DTYPES) as DType[]).find((k) => DTYPES[k].onnx === code);
  if (!d) fail(`unsupported ONNX element type ${code}`);
  return d;
}

export function inferShapes(op: string, inputs: (Value | null)[], attrs: Attrs, outputs: number): Info[] {
  const rule = SHAPE_RULES[op];
  if (!rule) fail(`no shape rule for op ${op}`);
  const infos = rule(inputs, attrs, outputs);
  if (infos.length !== outputs) fail(`produces ${infos.length} outputs, ${outputs} requested`);
  return infos;
}
