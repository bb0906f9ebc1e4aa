import { copyFileSync, existsSync, linkSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cast, DTYPES, numel, SafetensorsFile, type DType, type ExternalLocation, type Graph, type HostTensor, type Value } from '@npo/graph';

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
 * Where a source's tensors are: their names and shapes, their values, and — for a frozen weight read by
 * onnxruntime itself ('external') — where its bytes lie. One implementation per kind of source.
 */
interface TensorStore {
  readonly path: string | null;
  names(): string[];
  /** null when the store has no such tensor */
  shapeOf(name: string): number[] | null;
  read(name: string): HostTensor;
  /** The bytes of an 'external' weight, or null when the store can only inline its values. */
  external(name: string): { dtype: 'float32' | 'float16'; location: ExternalLocation } | null;
}

class FileStore implements TensorStore {
  constructor(private readonly file: SafetensorsFile) {}
  get path() {
    return this.file.path;
  }
  names = () => [...this.file.tensors.keys()];
  shapeOf = (name: string) => (this.file.has(name) ? [...this.file.entry(name).shape] : null);
  read = (name: string) => this.file.read(name);
  external(name: string) {
    const e = this.file.entry(name);
    if (e.dtype !== 'float32' && e.dtype !== 'float16') throw new WeightError(`weight '${name}' is ${e.dtype}; only float32 and float16 are supported`);
    return { dtype: e.dtype, location: { path: this.file.path, offset: e.offset, length: e.length } };
  }
}

class MemoryStore implements TensorStore {
  readonly path = null;
  constructor(private readonly tensors: Record<string, HostTensor>) {}
  names = () => Object.keys(this.tensors);
  shapeOf = (name: string) => (Object.hasOwn(this.tensors, name) ? this.tensors[name].shape : null);
  read(name: string) {
    if (!Object.hasOwn(this.tensors, name)) throw new WeightError(`missing weight '${name}'`);
    return this.tensors[name];
  }
  external = () => null;
}

/** Names, shapes and a stored dtype only: graphs built from it are measured, never run. */
class ShapeStore implements TensorStore {
  readonly path = null;
  constructor(private readonly shapes: Map<string, number[]>, private readonly dtype: 'float32' | 'float16') {}
  names = () => [...this.shapes.keys()];
  shapeOf = (name: string) => (this.shapes.has(name) ? [...this.shapes.get(name)!] : null);
  read(name: string): HostTensor {
    throw new WeightError(`weight '${name}' has a shape but no values (WeightSource.fromShapes)`);
  }
  external(name: string) {
    return { dtype: this.dtype, location: { path: '', offset: 0, length: numel(this.shapeOf(name)!) * DTYPES[this.dtype].bytes } };
  }
}

/**
 * A model's named tensors, handed to graphs on demand under their own (diffusers) names, converted to
 * float32 in-graph when stored as fp16. One source serves many graphs; each graph gets its own Values.
 */
export class WeightSource {
  private readonly perGraph = new WeakMap<Graph, Map<string, Value>>();

  private constructor(
    private readonly store: TensorStore,
    readonly mode: WeightMode,
    /** Prefix added to graph value names (e.g. `unet.`), so several models can share one graph. */
    readonly namePrefix = '',
  ) {}

  static fromSafetensors(path: string, mode: WeightMode = 'external', namePrefix = ''): WeightSource {
    return new WeightSource(new FileStore(SafetensorsFile.open(path)), mode, namePrefix);
  }

  static fromTensors(tensors: Record<string, HostTensor>, mode: WeightMode = 'inline', namePrefix = ''): WeightSource {
    return new WeightSource(new MemoryStore(tensors), mode, namePrefix);
  }

  /**
   * A model known only by its tensor names and shapes, stored as `dtype` (e.g. unetParameterShapes of a config):
   * the graphs it builds have external initializers with no bytes behind them — for measuring a graph (the memory
   * estimate of packages/diffusion/src/memory) without the weights file.
   */
  static fromShapes(shapes: Map<string, number[]>, dtype: 'float32' | 'float16' = 'float32'): WeightSource {
    return new WeightSource(new ShapeStore(shapes, dtype), 'external');
  }

  get path(): string | null {
    return this.store.path;
  }

  names(): string[] {
    return this.store.names();
  }

  has(name: string): boolean {
    return this.store.shapeOf(name) !== null;
  }

  shape(name: string): number[] {
    const s = this.store.shapeOf(name);
    if (!s) throw new WeightError(`missing weight '${name}'`);
    return s;
  }

  read(name: string): HostTensor {
    return this.store.read(name);
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
    const shape = this.store.shapeOf(name);
    if (!shape) throw new WeightError(`the weights have no tensor '${name}'${this.store.path ? ` (${this.store.path})` : ''}`);
    if (expected && (expected.length !== shape.length || expected.some((d, i) => d !== shape[i])))
      throw new WeightError(`weight '${name}' has shape [${shape}], the config implies [${expected}]`);
    const valueName = this.namePrefix + name;
    const external = this.mode === 'external' ? this.store.external(name) : null;
    const v = this.mode === 'input' ? g.input(valueName, 'float32', shape)
      : external ? g.externalInitializer(valueName, external.dtype, shape, external.location)
      : g.initializer(valueName, this.store.read(name));
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
