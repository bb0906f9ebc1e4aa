import { copyFileSync, existsSync, linkSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cast, SafetensorsFile, type Graph, type HostTensor, type Value } from '@npo/graph';

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
  ) {
    this.mode = mode;
  }

  static fromSafetensors(path: string, mode: WeightMode = 'external', namePrefix = ''): WeightSource {
    return new WeightSource(SafetensorsFile.open(path), null, mode, namePrefix);
  }

  static fromTensors(tensors: Record<string, HostTensor>, mode: WeightMode = 'inline', namePrefix = ''): WeightSource {
    return new WeightSource(null, tensors, mode, namePrefix);
  }

  get path(): string | null {
    return this.file?.path ?? null;
  }

  names(): string[] {
    return this.file ? [...this.file.tensors.keys()] : Object.keys(this.tensors!);
  }

  has(name: string): boolean {
    return this.file ? this.file.has(name) : name in this.tensors!;
  }

  shape(name: string): number[] {
    if (this.file) return [...this.file.entry(name).shape];
    const t = this.tensors![name];
    if (!t) throw new WeightError(`missing weight '${name}'`);
    return t.shape;
  }

  read(name: string): HostTensor {
    if (this.file) return this.file.read(name);
    const t = this.tensors![name];
    if (!t) throw new WeightError(`missing weight '${name}'`);
    return t;
  }

  /** The float32 graph value for weight `name`, checking its shape when `expected` is given. */
  param(g: Graph, name: string, expected?: number[]): Value {
    let cache = this.perGraph.get(g);
    if (!cache) this.perGraph.set(g, (cache = new Map()));
    const hit = cache.get(name);
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
    } else v = g.initializer(valueName, this.read(name));
    if (v.dtype !== 'float32') v = cast(v, 'float32');
    cache.set(name, v);
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
