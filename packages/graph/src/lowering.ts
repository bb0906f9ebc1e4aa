import type { HostTensor } from './dtype.ts';
import type { AttrValue, Node, Value } from './graph.ts';

/** One ONNX node as serialize writes it: a graph node may be written as several. */
export interface EmittedNode {
  name: string;
  opType: string;
  domain: string;
  input: string[];
  output: string[];
  attrs: Record<string, AttrValue>;
}

const constant = (name: string, value: HostTensor): EmittedNode => ({ name, opType: 'Constant', domain: '', input: [], output: [name], attrs: { value } });

/**
 * A float32 LayerNormalization written as ReduceMean, Sub, Mul, ReduceMean, Add, Sqrt, Reciprocal, Mul (+ affine):
 * onnxruntime's CPU kernel for it is 3–4× slower than those kernels (bench/layer-norm.ts: 7.8 vs 2.0 ms on
 * [2, 32, 40960], the shape of SD1.5's 320-channel GroupNorm). Same three outputs, Mean and InvStdDev in the
 * kept-dims shape; the variance is taken around the mean (two passes), so a large mean costs no precision. The scale
 * multiply is left out when `unitScale` (groupNorm's LayerNormalization has a scale of ones).
 */
function lowerLayerNorm(n: Node, unitScale: boolean): EmittedNode[] {
  const [x, scale, bias] = n.inputs as [Value, Value, Value | undefined];
  const axis = (n.attrs.axis as number) ?? -1;
  const first = axis < 0 ? x.rank + axis : axis;
  const axes: HostTensor = { dtype: 'int64', shape: [x.rank - first], data: BigInt64Array.from({ length: x.rank - first }, (_, i) => BigInt(first + i)) };
  const eps: HostTensor = { dtype: 'float32', shape: [], data: Float32Array.of((n.attrs.epsilon as number) ?? 1e-5) };
  const p = `${n.name}/lowered`;
  const [y, mean, invStd] = [0, 1, 2].map((i) => n.outputs[i]?.name ?? `${p}/unused_${i}`);
  const node = (op: string, input: string[], output: string, attrs: Record<string, AttrValue> = {}): EmittedNode =>
    ({ name: `${p}/${output.slice(output.lastIndexOf('/') + 1)}`, opType: op, domain: '', input, output: [output], attrs });
  // the normalized value, then the scale and the bias where present; the last of them writes y
  const affine = [unitScale ? null : ['Mul', scale.name], bias ? ['Add', bias.name] : null].filter((a) => a !== null);
  const stages = [`${p}/normed`, `${p}/scaled`].slice(0, affine.length).concat(y);
  return [
    constant(`${p}/axes`, axes),
    constant(`${p}/eps`, eps),
    node('ReduceMean', [x.name, `${p}/axes`], mean, { keepdims: 1 }),
    node('Sub', [x.name, mean], `${p}/centred`),
    node('Mul', [`${p}/centred`, `${p}/centred`], `${p}/squared`),
    node('ReduceMean', [`${p}/squared`, `${p}/axes`], `${p}/variance`, { keepdims: 1 }),
    node('Add', [`${p}/variance`, `${p}/eps`], `${p}/variance_eps`),
    node('Sqrt', [`${p}/variance_eps`], `${p}/std`),
    node('Reciprocal', [`${p}/std`], invStd),
    node('Mul', [`${p}/centred`, invStd], stages[0]),
    ...affine.map(([op, operand], i) => node(op, [stages[i], operand], stages[i + 1])),
  ];
}

/**
 * The ONNX nodes written for graph node `n`: itself, or the lowering of an op whose onnxruntime kernel is slower than
 * its math. `isOnes(v)`: whether v is known to hold only ones (a scale the lowering can leave out).
 */
export function emitNode(n: Node, isOnes: (v: Value) => boolean): EmittedNode[] {
  if (n.op === 'LayerNormalization' && n.domain === '' && n.inputs[0]!.dtype === 'float32') return lowerLayerNorm(n, isOnes(n.inputs[1]!));
  return [asEmitted(n)];
}

export function asEmitted(n: Node): EmittedNode {
  return { name: n.name, opType: n.op, domain: n.domain, input: n.inputs.map((v) => (v ? v.name : '')), output: n.outputs.map((v) => v.name), attrs: n.attrs };
}
