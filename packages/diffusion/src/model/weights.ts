import { copyFileSync, existsSync, linkSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cast, DTYPES, numel, SafetensorsFile, type DType, type Graph, type HostTensor, type Value } from '@npo/graph';

/** How a model's weights enter a graph. */
export type WeightMode =
  /** read by onnxruntime straight from the safetensors file (frozen base weights) */
  | 'external'
  /** stored inside the model (small frozen models, tests) */
  | 'inline'
  /** graph inputs, fed each run (full-parameter training) */
  | 'input';

export class WeightError extends Error {
  readonly code = 'invalid_weights';
  constructor(message: string) {
    super(message);
    this.name = 'WeightError';
  }
}

/**
 * A model's named tensors, handed to graphs on demand under their own (diffusers) names, converted to
 * float32 in-graph when stored as fp16. One source serves many graphs; each graph gets its own Values.
 */
export class WeightSource {
  private readonly perGraph = new WeakMap<Graph, Map<string, Value>>();
  readonly mode: WeightMode;

  private constructor(
    private readonly file: SafetensorsFile | null,
    private readonly tensors: Record<string, HostTensor> | null,
    mode: WeightMode,
    /** Prefix added to graph value names (e.g. `unet.`), so several models can share one graph. */
    readonly namePrefix = '',
    /** Names, shapes and a stored dtype only (fromShapes): graphs built from it are measured, never run. */
    private readonly shapesOnly: { shapes: Map<string, number[]>; dtype: 'float32' | 'float16' } | null = null,
  ) {
    this.mode = mode;
  }

  static fromSafetensors(path: string, mode: WeightMode = 'external', namePrefix = ''): WeightSource {
    return new WeightSource(SafetensorsFile.open(path), null, mode, namePrefix);
  }

  static fromTensors(tensors: Record<string, HostTensor>, mode: WeightMode = 'inline', namePrefix = ''): WeightSource {
    return new WeightSource(null, tensors, mode, namePrefix);
  }

  /**
   * A model known only by its tensor names and shapes, stored as `dtype` (e.g. unetParameterShapes of a config):
   * the graphs it builds have external initializers with no bytes behind them — for measuring a graph (the memory
   * estimate of packages/diffusion/src/memory) without the weights file.
   */
  static fromShapes(shapes: Map<string, number[]>, dtype: 'float32' | 'float16' = 'float32'): WeightSource {
    return new WeightSource(null, Object.create(null), 'external', '', { shapes, dtype });
  }

  get path(): string | null {
    return this.file?.path ?? null;
  }

  names(): string[] {
    if (this.shapesOnly) return [...this.shapesOnly.shapes.keys()];
    return this.file ? [...this.file.tensors.keys()] : Object.keys(this.tensors!);
  }

  has(name: string): boolean {
    if (this.shapesOnly) return this.shapesOnly.shapes.has(name);
    return this.file ? this.file.has(name) : name in this.tensors!;
  }

  shape(name: string): number[] {
    if (this.shapesOnly) {
      const s = this.shapesOnly.shapes.get(name);
      if (!s) throw new WeightError(`missing weight '${name}'`);
      return [...s];
    }
    if (this.file) return [...this.file.entry(name).shape];
    const t = this.tensors![name];
    if (!t) throw new WeightError(`missing weight '${name}'`);
    return t.shape;
  }

  read(name: string): HostTensor {
    if (this.shapesOnly) throw new WeightError(`weight '${name}' has a shape but no values (WeightSource.fromShapes)`);
    if (this.file) return this.file.read(name);
    const t = this.tensors![name];
    if (!t) throw new WeightError(`missing weight '${name}'`);
    return t;
  }

  /**
   * The graph value for weight `name` as `dtype` (float32 unless the model computes in 16 bits: mixed precision),
   * checking its shape when `expected` is given. A stored dtype other than `dtype` is cast in-graph: a Cast of an
   * initializer, which onnxruntime folds once at load, so an fp16 file asked for as float16 is used as it is.
   */
  param(g: Graph, name: string, expected?: number[], dtype: DType = 'float32'): Value {
    let cache = this.perGraph.get(g);
    if (!cache) this.perGraph.set(g, (cache = new Map()));
    const key = dtype === 'float32' ? name : `${name}:${dtype}`;
    const hit = cache.get(key);
    if (hit) return hit;
    const stored = this.storedParam(g, name, expected);
    const v = stored.dtype === dtype ? stored : cast(stored, dtype);
    cache.set(key, v);
    return v;
  }

  /** The weight as stored (float32 or float16), one graph value per graph whatever dtypes it is asked for in. */
  private storedParam(g: Graph, name: string, expected?: number[]): Value {
    const cache = this.perGraph.get(g)!;
    const hit = cache.get(`${name}:stored`);
    if (hit) return hit;
    if (!this.has(name)) throw new WeightError(`the weights have no tensor '${name}'${this.file ? ` (${this.file.path})` : ''}`);
    const shape = this.shape(name);
    if (expected && (expected.length !== shape.length || expected.some((d, i) => d !== shape[i])))
      throw new WeightError(`weight '${name}' has shape [${shape}], the config implies [${expected}]`);
    const valueName = this.namePrefix + name;
    let v: Value;
    if (this.mode === 'input') v = g.input(valueName, 'float32', shape);
    else if (this.mode === 'external' && this.file) {
      const e = this.file.entry(name);
      if (e.dtype !== 'float32' && e.dtype !== 'float16') throw new WeightError(`weight '${name}' is ${e.dtype}; only float32 and float16 are supported`);
      v = g.externalInitializer(valueName, e.dtype, shape, { path: this.file.path, offset: e.offset, length: e.length });
    } else if (this.shapesOnly) v = g.externalInitializer(valueName, this.shapesOnly.dtype, shape, { path: '', offset: 0, length: numel(shape) * DTYPES[this.shapesOnly.dtype].bytes });
    else v = g.initializer(valueName, this.read(name));
    cache.set(`${name}:stored`, v);
    return v;
  }
}

/** The first of `files` (a model folder's weight files, in order of preference) present in `dir`. */
export function findWeightsFile(dir: string, files: readonly string[]): string {
  const found = files.map((f) => join(dir, f)).find(existsSync);
  if (!found) throw new WeightError(`${dir} has none of ${files.join(', ')}: convert .bin checkpoints to safetensors first`);
  return found;
}

/**
 * Makes `src` reachable from `dest` without copying when possible: onnxruntime only reads external data
 * inside the model's folder, so compiled artifacts get a hard link to the weights beside them.
 */
export function linkWeights(src: string, dest: string): string {
  mkdirSync(dirname(dest), { recursive: true });
  if (existsSync(dest)) {
    const a = statSync(src);
    const b = statSync(dest);
    if (a.ino === b.ino && a.dev === b.dev) return dest;
    // A link to an older file (or a copy): replace it, never trust a stale one.
    unlinkSync(dest);
  }
  try {
    linkSync(src, dest);
  } catch {
    // Another filesystem: hard links are impossible, copy (symlinks are refused by onnxruntime when they leave the folder).
    copyFileSync(src, dest);
  }
  return dest;
}
