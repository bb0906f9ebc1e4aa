/** Element types the compiler handles, with their ONNX and safetensors spellings. */
export type DType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

export type TypedArray =
  | Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;

interface DTypeInfo {
  onnx: number;
  safetensors: string;
  bytes: number;
  array: { new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray; new (length: number): TypedArray };
}

export const DTYPES: Record<DType, DTypeInfo> = {
  float32: { onnx: 1, safetensors: 'F32', bytes: 4, array: Float32Array },
  uint8: { onnx: 2, safetensors: 'U8', bytes: 1, array: Uint8Array },
  int8: { onnx: 3, safetensors: 'I8', bytes: 1, array: Int8Array },
  int32: { onnx: 6, safetensors: 'I32', bytes: 4, array: Int32Array },
  int64: { onnx: 7, safetensors: 'I64', bytes: 8, array: BigInt64Array },
  bool: { onnx: 9, safetensors: 'BOOL', bytes: 1, array: Uint8Array },
  float16: { onnx: 10, safetensors: 'F16', bytes: 2, array: Uint16Array },
  // compute-only (mixed precision on providers with bfloat16 kernels): graphs cast to it internally, never feed or read it
  bfloat16: { onnx: 16, safetensors: 'BF16', bytes: 2, array: Uint16Array },
  float64: { onnx: 11, safetensors: 'F64', bytes: 8, array: Float64Array },
};

export function dtypeFromSafetensors(code: string): DType {
  const found = (Object.keys(DTYPES) as DType[]).find((d) => DTYPES[d].safetensors === code);
  if (!found) throw new Error(`unsupported safetensors dtype '${code}' (supported: F32, F16, BF16, F64, I64, I32, I8, U8, BOOL)`);
  return found;
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float16' || dtype === 'bfloat16' || dtype === 'float64';
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A tensor in host memory: the unit of feeds, outputs, fixtures and checkpoints. */
export interface HostTensor {
  dtype: DType;
  shape: number[];
  data: TypedArray;
}

export function hostTensor(dtype: DType, shape: number[], data?: TypedArray | number[]): HostTensor {
  const n = numel(shape);
  let arr: TypedArray;
  if (data === undefined) arr = new DTYPES[dtype].array(n);
  else if (Array.isArray(data)) {
    arr = new DTYPES[dtype].array(n);
    if (dtype === 'int64') data.forEach((v, i) => ((arr as BigInt64Array)[i] = BigInt(v)));
    else if (dtype === 'float16') data.forEach((v, i) => ((arr as Uint16Array)[i] = floatToHalf(v)));
    else if (dtype === 'bfloat16') data.forEach((v, i) => ((arr as Uint16Array)[i] = floatToBfloat16(v)));
    else data.forEach((v, i) => ((arr as Float32Array)[i] = v));
  } else arr = data;
  if (arr.length !== n) throw new Error(`tensor data has ${arr.length} elements, shape [${shape}] needs ${n}`);
  return { dtype, shape, data: arr };
}

/** IEEE half → float, for reading fp16 checkpoints on the host. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** float32 → IEEE half bits, round to nearest even (as torch's .half()), with subnormals, overflow to ±inf and NaN. */
export function floatToHalf(x: number): number {
  f32Scratch[0] = x;
  const bits = u32Scratch[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    if (rest > half || (rest === half && r & 1)) r++;
    return sign | r;
  }
  let r = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && r & 1)) r++;
  return sign | r;
}

/** float32 → bfloat16 bits (the high half of the float32), round to nearest even, NaN kept NaN. */
export function floatToBfloat16(x: number): number {
  f32Scratch[0] = x;
  const bits = u32Scratch[0];
  if ((bits & 0x7f800000) === 0x7f800000 && bits & 0x7fffff) return (bits >>> 16) | 0x40;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** A float32 tensor as float16 (e.g. to store fp16 weights). */
export function toFloat16(t: HostTensor): HostTensor {
  if (t.dtype === 'float16') return t;
  return { dtype: 'float16', shape: t.shape, data: Uint16Array.from(toFloat32(t), floatToHalf) };
}

/** Any float tensor as float32 values (fp16 and fp64 converted). */
export function toFloat32(t: HostTensor): Float32Array {
  if (t.dtype === 'float32') return t.data as Float32Array;
  if (t.dtype === 'float16') return Float32Array.from(t.data as Uint16Array, halfToFloat);
  // bfloat16 is the high half of a float32
  if (t.dtype === 'bfloat16') return new Float32Array(Uint32Array.from(t.data as Uint16Array, (b) => b << 16).buffer);
  if (t.dtype === 'int64') return Float32Array.from(t.data as BigInt64Array, Number);
  return Float32Array.from(t.data as ArrayLike<number>);
}
