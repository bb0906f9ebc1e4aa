import { create, toBinary } from '@bufbuild/protobuf';
import { closeSync, mkdirSync, openSync, realpathSync, renameSync, writeSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import {
  AttributeProto_AttributeType as AttrType, AttributeProtoSchema, GraphProtoSchema, ModelProtoSchema, NodeProtoSchema,
  TensorProto_DataLocation, TensorProtoSchema, ValueInfoProtoSchema, type AttributeProto, type TensorProto, type ValueInfoProto,
} from 'onnx-buf';
import { DTYPES, type HostTensor } from './dtype.ts';
import { FLOAT_ATTRS, type AttrValue, type Graph, type Node, type Value } from './graph.ts';
import { asEmitted, emitNode } from './lowering.ts';

export const OPSET = 18;
const IR_VERSION = 8n;
/** Initializers above this size go to the side file, so the model file stays small (and far under 2 GB). */
const INLINE_LIMIT = 64 * 1024;

function bytesOf(t: HostTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

function externalTensor(name: string, v: Value, location: string, offset: number, length: number): TensorProto {
  return create(TensorProtoSchema, {
    name,
    dims: v.shape.map(BigInt),
    dataType: DTYPES[v.dtype].onnx,
    dataLocation: TensorProto_DataLocation.EXTERNAL,
    externalData: [
      { key: 'location', value: location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(length) },
    ],
  });
}

function tensorProto(name: string, t: HostTensor): TensorProto {
  return create(TensorProtoSchema, { name, dims: t.shape.map(BigInt), dataType: DTYPES[t.dtype].onnx, rawData: bytesOf(t).slice() });
}

function attribute(name: string, v: AttrValue): AttributeProto {
  if (typeof v === 'string') return create(AttributeProtoSchema, { name, type: AttrType.STRING, s: new TextEncoder().encode(v) });
  if (Array.isArray(v))
    return FLOAT_ATTRS.has(name)
      ? create(AttributeProtoSchema, { name, type: AttrType.FLOATS, floats: v })
      : create(AttributeProtoSchema, { name, type: AttrType.INTS, ints: v.map(BigInt) });
  if (typeof v === 'number')
    return FLOAT_ATTRS.has(name)
      ? create(AttributeProtoSchema, { name, type: AttrType.FLOAT, f: v })
      : create(AttributeProtoSchema, { name, type: AttrType.INT, i: BigInt(v) });
  return create(AttributeProtoSchema, { name, type: AttrType.TENSOR, t: tensorProto(name, v) });
}

function valueInfo(name: string, v: Value): ValueInfoProto {
  return create(ValueInfoProtoSchema, {
    name,
    type: {
      value: {
        case: 'tensorType',
        value: { elemType: DTYPES[v.dtype].onnx, shape: { dim: v.shape.map((d) => ({ value: { case: 'dimValue' as const, value: BigInt(d) } })) } },
      },
    },
  });
}

/** Nodes that some graph output depends on, in their (topological) build order. */
export function liveNodes(graph: Graph): Node[] {
  const needed = new Set(graph.outputs.map((o) => o.value.name));
  const live: Node[] = [];
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i];
    if (!n.outputs.some((o) => needed.has(o.name))) continue;
    live.push(n);
    for (const v of n.inputs) if (v) needed.add(v.name);
  }
  return live.reverse();
}

/**
 * `nodes` (in build order) listed for onnxruntime's default execution order: a depth-first walk back from the graph's
 * sinks that takes a node's producers, and the sinks themselves, highest listing position first. A topological
 * listing that always puts next, of the nodes whose producers are listed, the one built last makes that walk run the
 * nodes in build order wherever the data allows. Listed in build order, an SD1.5 training step runs in an order
 * whose activation peak is 3.9 GB against the build order's 0.7 GB (bench/README.md, execution-order.test.ts).
 */
export function runtimeListing(nodes: readonly Node[]): Node[] {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => n.outputs.forEach((o) => producer.set(o.name, i)));
  const consumers: number[][] = nodes.map(() => []);
  const waiting = nodes.map((n, i) => {
    const from = new Set<number>();
    for (const v of n.inputs) {
      const p = v ? producer.get(v.name) : undefined;
      if (p !== undefined) from.add(p);
    }
    for (const p of from) consumers[p].push(i);
    return from.size;
  });
  // a max-heap of the ready nodes' build positions
  const heap: number[] = [];
  const up = (x: number) => {
    let i = heap.push(x) - 1;
    while (i > 0 && heap[(i - 1) >> 1] < heap[i]) {
      [heap[(i - 1) >> 1], heap[i]] = [heap[i], heap[(i - 1) >> 1]];
      i = (i - 1) >> 1;
    }
  };
  const pop = () => {
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const m = l + 1 < heap.length && heap[l + 1] > heap[l] ? l + 1 : l;
        if (m >= heap.length || heap[m] <= heap[i]) break;
        [heap[m], heap[i]] = [heap[i], heap[m]];
        i = m;
      }
    }
    return top;
  };
  waiting.forEach((w, i) => w === 0 && up(i));
  const listed: Node[] = [];
  while (heap.length) {
    const i = pop();
    listed.push(nodes[i]);
    for (const c of consumers[i]) if (--waiting[c] === 0) up(c);
  }
  return listed;
}

export interface SerializeOptions {
  /** Folder the model file will live in: external paths are written relative to it. */
  modelDir?: string;
  /** Side file (relative to modelDir) receiving large in-memory initializers; without it they stay inline. */
  sideFile?: string;
  producer?: string;
  /** List nodes in build order instead of runtimeListing: only to show what that costs (execution-order.test.ts). */
  buildOrderListed?: boolean;
  /** false: write every node as its own op, no lowering (lowering.ts): only to measure what lowering gains. */
  lower?: boolean;
}

/** Follows symlinks where the path exists, as onnxruntime does when it validates external data. */
function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

function relativeInside(modelDir: string, path: string, what: string): string {
  const rel = relative(modelDir, resolve(path));
  const realRel = relative(real(modelDir), real(path));
  // A file named '..weights' is inside; only a '..' path segment (or another drive) escapes.
  const escapes = (r: string) => r === '..' || r.startsWith('..' + sep) || isAbsolute(r);
  if (escapes(rel) || escapes(realRel))
    throw new Error(`${what} '${path}' is outside the model folder '${modelDir}': onnxruntime refuses external data outside it; save the model in a folder that contains the weights`);
  return rel.split(sep).join('/');
}

/** Builds the ONNX ModelProto bytes; large initializers are appended to `sideChunks` when a side file is named. */
function build(graph: Graph, opts: SerializeOptions, sideChunks: Uint8Array[] | null): Uint8Array {
  const nodes = liveNodes(graph);
  const used = new Set<string>();
  for (const n of nodes) for (const v of n.inputs) if (v) used.add(v.name);
  let sideOffset = 0;
  const initializers: TensorProto[] = [];
  for (const [name, init] of graph.initializers) {
    if (!used.has(name)) continue;
    const v = init.value;
    if (init.external) {
      if (!opts.modelDir) throw new Error(`initializer '${name}' uses external data: save the model by path`);
      const location = relativeInside(opts.modelDir, init.external.path, `external data of '${name}'`);
      initializers.push(externalTensor(name, v, location, init.external.offset, init.external.length));
    } else if (sideChunks && opts.sideFile && init.data!.data.byteLength > INLINE_LIMIT) {
      const bytes = bytesOf(init.data!);
      const pad = (64 - (sideOffset % 64)) % 64;
      if (pad) sideChunks.push(new Uint8Array(pad));
      sideOffset += pad;
      sideChunks.push(bytes);
      initializers.push(externalTensor(name, v, opts.sideFile, sideOffset, bytes.byteLength));
      sideOffset += bytes.byteLength;
    } else initializers.push(tensorProto(name, init.data!));
  }
  const producer = new Map<string, Node>();
  for (const n of nodes) for (const o of n.outputs) producer.set(o.name, n);
  const isOnes = (v: Value): boolean => {
    const init = graph.initializers.get(v.name);
    if (init) return init.data?.dtype === 'float32' && init.data.data.every((x) => x === 1);
    const p = producer.get(v.name);
    return p?.op === 'Expand' && isOnes(p.inputs[0]!);
  };
  const graphProto = create(GraphProtoSchema, {
    name: 'npo_forge',
    node: (opts.buildOrderListed ? nodes : runtimeListing(nodes)).flatMap((n) => (opts.lower === false ? [asEmitted(n)] : emitNode(n, isOnes))).map((e) =>
      create(NodeProtoSchema, {
        name: e.name,
        opType: e.opType,
        domain: e.domain,
        input: e.input,
        output: e.output,
        attribute: Object.entries(e.attrs).map(([k, v]) => attribute(k, v)),
      }),
    ),
    initializer: initializers,
    input: graph.inputs.map((v) => valueInfo(v.name, v)),
    output: graph.outputs.map((o) => valueInfo(o.name, o.value)),
  });
  const model = create(ModelProtoSchema, {
    irVersion: IR_VERSION,
    producerName: opts.producer ?? 'npo-forge/graph',
    opsetImport: [{ domain: '', version: BigInt(OPSET) }],
    graph: graphProto,
  });
  return toBinary(ModelProtoSchema, model);
}

/** The model as bytes, every initializer inline (for small graphs and tests). */
export function serialize(graph: Graph, opts: Pick<SerializeOptions, 'buildOrderListed' | 'lower'> = {}): Uint8Array {
  return build(graph, opts, null);
}

/**
 * Writes `<path>` and, when large in-memory initializers exist, `<path>.data` beside it; external
 * initializers keep pointing at their own files (which must lie inside the model's folder).
 */
export function saveModel(graph: Graph, path: string): { modelPath: string; bytes: number; sideFile?: string } {
  const abs = resolve(path);
  const dir = dirname(abs);
  mkdirSync(dir, { recursive: true });
  const sideName = basename(abs) + '.data';
  const chunks: Uint8Array[] = [];
  const bytes = build(graph, { modelDir: dir, sideFile: sideName }, chunks);
  if (bytes.byteLength >= 2 ** 31) throw new Error(`model file would be ${bytes.byteLength} bytes; ONNX caps it at 2 GB`);
  const write = (file: string, parts: Uint8Array[]) => {
    const tmp = `${file}.tmp-${process.pid}`;
    const fd = openSync(tmp, 'w');
    try {
      for (const p of parts) writeSync(fd, p);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  };
  if (chunks.length) write(`${dir}/${sideName}`, chunks);
  write(abs, [bytes]);
  return { modelPath: abs, bytes: bytes.byteLength, sideFile: chunks.length ? `${dir}/${sideName}` : undefined };
}
