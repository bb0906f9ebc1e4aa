import { DTYPES, hostTensor, numel, type DType, type HostTensor } from './dtype.ts';
import { inferShapes } from './shape-inference.ts';

export type AttrValue = number | number[] | string | HostTensor;
export type Attrs = Record<string, AttrValue>;

/** Attributes ONNX types as float; every other numeric attribute is an int. */
export const FLOAT_ATTRS = new Set(['alpha', 'beta', 'epsilon', 'gamma', 'extrapolation_value', 'cubic_coeff_a', 'momentum']);

/** Where an initializer's bytes live when they are not inline: a byte range of a file beside the model. */
export interface ExternalLocation {
  /** File path; serialization rewrites it relative to the model's folder. */
  path: string;
  offset: number;
  length: number;
}

export class Value {
  /** Known element values for small int64 constants (shapes, axes), so shape inference can read them. */
  constValues?: number[];
  constructor(
    readonly graph: Graph,
    readonly name: string,
    readonly dtype: DType,
    readonly shape: readonly number[],
  ) {}
  get rank(): number {
    return this.shape.length;
  }
  toString(): string {
    return `${this.name}[${this.shape.join(',')}]${this.dtype === 'float32' ? '' : ':' + this.dtype}`;
  }
}

export interface Node {
  op: string;
  name: string;
  domain: string;
  inputs: (Value | null)[];
  outputs: Value[];
  attrs: Attrs;
}

/**
 * A checkpoint region's own backward, for a region whose gradient has a cheaper form than differentiating its nodes
 * one by one (attention: rowsum(dP ⊙ P) is rowsum(dO ⊙ O)). `reads` are the values the region reads and `output` its
 * result, as the backward sees them (fenced, or in a recomputed enclosing region's copy); returns one gradient (or
 * null) per read. It recomputes whatever it needs from `reads`: nothing inside the region is kept.
 */
export type RegionBackward = (reads: Value[], output: Value, dOutput: Value) => (Value | null)[];

export interface CheckpointRegion {
  start: number;
  end: number;
  custom?: { reads: Value[]; output: Value; backward: RegionBackward };
}

export interface Initializer {
  value: Value;
  data?: HostTensor;
  external?: ExternalLocation;
}

export class ShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShapeError';
  }
}

/**
 * A static-shape ONNX graph under construction. Values carry dtype and shape; every node is checked as it
 * is added, so a mismatch fails here, naming the op and its operands, instead of inside onnxruntime.
 */
export class Graph {
  readonly inputs: Value[] = [];
  readonly outputs: { name: string; value: Value }[] = [];
  readonly nodes: Node[] = [];
  readonly initializers = new Map<string, Initializer>();
  private readonly names = new Set<string>();
  private readonly scopes: string[] = [];
  private modulePath: string | null = null;
  private readonly scalarCache = new Map<string, Value>();
  /**
   * Activation-checkpoint regions: node index ranges [start, end) whose internal values the backward does not
   * keep — `grad` re-emits the region's nodes when its backward is reached and differentiates the copies.
   */
  readonly checkpoints: CheckpointRegion[] = [];
  /**
   * Regions built inside a region (attention chunks inside a checkpointed block), with their depth (1 = inside an
   * outer region): when `grad` recomputes the outer region, these are regions of its copy in turn, so the outer
   * region's backward does not keep what they hold either.
   */
  readonly innerCheckpoints: (CheckpointRegion & { depth: number })[] = [];
  private checkpointDepth = 0;

  /** Names values built inside `fn` with a dotted prefix, e.g. `model` or `grad` (model code uses `module`). */
  scope<T>(name: string, fn: () => T): T {
    this.scopes.push(name);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  /**
   * Names values built inside `fn` after a model module, e.g. `down_blocks.0.resnets.1`. Module paths are
   * absolute (they are weight-name prefixes), so a nested module replaces the outer one instead of appending.
   */
  module<T>(path: string, fn: () => T): T {
    const outer = this.modulePath;
    this.modulePath = path;
    try {
      return fn();
    } finally {
      this.modulePath = outer;
    }
  }

  /**
   * Builds `fn`'s nodes as one activation-checkpoint region (see `checkpoints`): exact, it trades recomputing
   * the region in the backward for not keeping its activations. A region inside a region is an inner region.
   * With `custom`, the region's backward is `custom.backward` on `custom.reads` (every value the region reads from
   * outside) instead of its nodes' rules.
   */
  checkpoint<T>(fn: () => T): T;
  checkpoint(fn: () => Value, custom: { reads: Value[]; backward: RegionBackward }): Value;
  checkpoint<T>(fn: () => T, custom?: { reads: Value[]; backward: RegionBackward }): T {
    const start = this.nodes.length;
    const depth = this.checkpointDepth++;
    let result: T | undefined;
    try {
      result = fn();
      return result;
    } finally {
      this.checkpointDepth--;
      if (this.nodes.length > start) {
        const region: CheckpointRegion = { start, end: this.nodes.length };
        if (custom && result !== undefined) region.custom = { ...custom, output: result as Value };
        if (depth === 0) this.checkpoints.push(region);
        else this.innerCheckpoints.push({ ...region, depth });
      }
    }
  }

  /** A name not yet used in this graph, prefixed by the current scope and module; `claim` or `initializer` reserves it. */
  private readonly nextSuffix = new Map<string, number>();

  freshName(base: string): string {
    const prefix = this.modulePath ? [...this.scopes, this.modulePath] : this.scopes;
    const name = (prefix.length ? prefix.join('.') + '/' : '') + base;
    if (!this.names.has(name)) return name;
    // Names are never released, so every suffix below the last one handed out is still taken: resume there
    // (scanning from 1 each time made large graphs, whose rules reuse a few names, quadratic to build).
    let i = this.nextSuffix.get(name) ?? 1;
    while (this.names.has(`${name}_${i}`)) i++;
    this.nextSuffix.set(name, i);
    return `${name}_${i}`;
  }

  uniqueName(base: string): string {
    return this.claim(this.freshName(base));
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`graph already has a value named '${name}'`);
    this.names.add(name);
    return name;
  }

  input(name: string, dtype: DType, shape: number[]): Value {
    const v = new Value(this, this.claim(name), dtype, [...shape]);
    this.inputs.push(v);
    return v;
  }

  /** A frozen tensor stored with the model (inline, or in the side file when large). */
  initializer(name: string, data: HostTensor): Value {
    if (data.data.length !== numel(data.shape)) throw new Error(`initializer '${name}': data does not match shape [${data.shape}]`);
    const v = new Value(this, this.claim(name), data.dtype, [...data.shape]);
    this.initializers.set(v.name, { value: v, data });
    return v;
  }

  /** A frozen tensor read by onnxruntime straight from a byte range of an existing file (e.g. a safetensors tensor). */
  externalInitializer(name: string, dtype: DType, shape: number[], location: ExternalLocation): Value {
    const expected = numel(shape) * DTYPES[dtype].bytes;
    if (location.length !== expected) throw new Error(`external initializer '${name}': ${location.length} bytes, shape [${shape}] ${dtype} needs ${expected}`);
    const v = new Value(this, this.claim(name), dtype, [...shape]);
    this.initializers.set(v.name, { value: v, external: location });
    return v;
  }

  /** A float32 (or other) scalar constant of shape [], shared across the graph. */
  scalar(x: number, dtype: DType = 'float32'): Value {
    const key = `${dtype}:${Object.is(x, -0) ? '-0' : x}`;
    let v = this.scalarCache.get(key);
    if (!v) {
      // hostTensor stores each dtype's bits (a half's, not the number, in a Uint16Array)
      const { data } = hostTensor(dtype, [], [x]);
      v = this.initializer(this.freshName(`const_${dtype}_${String(x).replace(/[^0-9a-zA-Z.-]/g, '_')}`), { dtype, shape: [], data });
      if (dtype === 'int64') v.constValues = [x];
      this.scalarCache.set(key, v);
    }
    return v;
  }

  /** A small int64 vector constant (shapes, axes, pads), readable by shape inference. */
  ints(values: readonly number[]): Value {
    const key = `ints:${values.join(',')}`;
    let v = this.scalarCache.get(key);
    if (!v) {
      const data = BigInt64Array.from(values, (x) => BigInt(x));
      v = this.initializer(this.freshName(`ints_${values.length}`), { dtype: 'int64', shape: [values.length], data });
      v.constValues = [...values];
      this.scalarCache.set(key, v);
    }
    return v;
  }

  /** Adds one node; output dtypes and shapes come from the op's shape rule. */
  node(op: string, inputs: (Value | null)[], attrs: Attrs = {}, options: { outputs?: number; name?: string; domain?: string } = {}): Value[] {
    for (const i of inputs) if (i && i.graph !== this) throw new Error(`${op}: input ${i.name} belongs to another graph`);
    let infos: { dtype: DType; shape: number[] }[];
    try {
      infos = inferShapes(op, inputs, attrs, options.outputs ?? 1);
    } catch (e) {
      const operands = inputs.map((v) => (v ? v.toString() : '∅')).join(', ');
      throw new ShapeError(`${op}${options.name ? ` '${options.name}'` : ''}: ${(e as Error).message} (inputs: ${operands})`);
    }
    const base = options.name ?? op;
    const name = this.uniqueName(base);
    const outputs = infos.map((info, k) => new Value(this, this.uniqueName(infos.length === 1 ? `${base}_out` : `${base}_out${k}`), info.dtype, info.shape));
    this.nodes.push({ op, name, domain: options.domain ?? '', inputs, outputs, attrs });
    return outputs;
  }

  /** Exposes `value` as graph output `name` (through an Identity node, so the name is exactly the one asked for). */
  output(name: string, value: Value): Value {
    const nodeName = this.uniqueName(`output_${name}`);
    const out = new Value(this, this.claim(name), value.dtype, value.shape);
    this.nodes.push({ op: 'Identity', name: nodeName, domain: '', inputs: [value], outputs: [out], attrs: {} });
    this.outputs.push({ name, value: out });
    return out;
  }
}

// never folded: a fresh value every run
const NONDETERMINISTIC = /^Random/;

/**
 * The values onnxruntime computes once, at load, instead of every run: the initializers and the outputs of every
 * deterministic node among the first `end` whose inputs all are such values (a weight's Cast to float32). The autodiff
 * never recomputes or fences them, and the memory estimate counts them resident.
 */
export function loadTimeConstants(g: Graph, end = g.nodes.length): Set<Value> {
  const constants = new Set<Value>([...g.initializers.values()].map((i) => i.value));
  for (const n of g.nodes.slice(0, end)) {
    if (!NONDETERMINISTIC.test(n.op) && n.inputs.every((v) => v === null || constants.has(v))) for (const o of n.outputs) constants.add(o);
  }
  return constants;
}
