import { isFloat } from './dtype.ts';
import { loadTimeConstants, type Attrs, type CheckpointRegion, type Graph, type Node, type Value } from './graph.ts';
import { add, full, mul, reduceSum, reshape, slice } from './ops.ts';
import { GRAD_RULES, NO_GRADIENT } from './rules.ts';

/** What a gradient rule sees: the forward node's operands and results, and the incoming output gradients. */
export interface GradContext {
  g: Graph;
  node: Node;
  attrs: Attrs;
  x: (Value | null)[];
  y: Value[];
  /** Gradient of the loss w.r.t. each output, or null where no path from the loss reaches it. */
  dy: (Value | null)[];
  /** Which inputs need a gradient; a rule may skip the rest. */
  needs: boolean[];
}

/** Returns one gradient per input (null/undefined where none); shapes may be broadcast, the engine reduces them. */
export type GradRule = (ctx: GradContext) => (Value | null | undefined)[];

export class GradientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GradientError';
  }
}

/** Sums a broadcast gradient back to the shape of the operand it belongs to. */
export function unbroadcast(grad: Value, shape: readonly number[]): Value {
  if (grad.rank === shape.length && grad.shape.every((d, i) => d === shape[i])) return grad;
  const lead = grad.rank - shape.length;
  if (lead < 0) throw new GradientError(`gradient ${grad} has lower rank than its operand [${shape}]`);
  const axes: number[] = [];
  for (let i = 0; i < grad.rank; i++) if (i < lead || (shape[i - lead] === 1 && grad.shape[i] !== 1)) axes.push(i);
  const summed = axes.length ? reduceSum(grad, axes, true) : grad;
  return reshape(summed, [...shape]);
}

/**
 * Appends the backward pass of `loss` to its graph and returns d loss / d each of `wrt`.
 * Only nodes on a path from some `wrt` to `loss` are differentiated; fan-in is summed here, not in the rules.
 * A checkpoint region (Graph.checkpoint) is re-emitted when the backward reaches it, and its copies are
 * differentiated instead of the originals, so the originals' activations are needed by the forward only.
 */
export function grad(loss: Value, wrt: Value[], seed?: Value): Value[] {
  const g = loss.graph;
  const forward = new Set<string>(wrt.map((v) => v.name));
  const onPath: number[] = [];
  const end = g.nodes.length;
  const onForwardPath = (n: Node) => n.inputs.some((v) => v && forward.has(v.name));
  for (let i = 0; i < end; i++) {
    const n = g.nodes[i];
    if (onForwardPath(n)) {
      n.outputs.forEach((o) => forward.add(o.name));
      onPath.push(i);
    }
  }
  if (!forward.has(loss.name)) throw new GradientError(`loss ${loss} does not depend on any of the requested values`);
  const regionOf = new Map<number, CheckpointRegion>();
  for (const r of g.checkpoints) if (r.end <= end) for (let i = r.start; i < r.end; i++) regionOf.set(i, r);

  // d loss / d value so far, by value name: one running sum per value
  const pending = new Map<string, Value>();
  // Gradients pushed while each enclosing region's backward runs (innermost last), target name → latest running sum.
  const leaving: Map<string, Value>[] = [];
  // Fan-in is summed as it arrives (the same left-to-right order as summing at the end): a value read by many nodes
  // — q, k and v by every attention chunk, each chunk's gradient padded to the full size — holds one running sum,
  // not one full-size tensor per reader until its producer is reached.
  const push = (v: Value, d: Value) => {
    const prev = pending.get(v.name);
    const sum = prev ? g.scope('grad', () => add(prev, d)) : d;
    pending.set(v.name, sum);
    for (const m of leaving) m.set(v.name, sum);
  };
  /** 0 as a [1] tensor that onnxruntime can compute only once `d` exists. */
  const zeroAfter = (d: Value) => g.scope('grad', () => mul(reshape(d.rank ? slice(d, [...d.shape.keys()], d.shape.map(() => 0), d.shape.map(() => 1)) : d, [1]), 0));
  /**
   * A zero that exists only once every gradient that left the regions recomputed so far exists. Folded into the next
   * region's fence, it makes onnxruntime finish one region's backward (its attention chunk's dq, dk and dv, a LoRA
   * module's dA and dB) before recomputing the next: its own order would otherwise recompute every chunk of an
   * attention first and keep all their probability maps while it completes dk over all chunks, then dv.
   */
  let carry: Value | null = null;
  const total = (v: Value): Value | null => pending.get(v.name) ?? null;

  /** Applies `node`'s rule; `route` maps an operand to the value its gradient belongs to (a recomputed copy's original). */
  const backprop = (node: Node, route: (v: Value) => Value = (v) => v) => {
    if (NO_GRADIENT.has(node.op)) return;
    const dy = node.outputs.map(total);
    if (dy.every((d) => d === null)) return;
    const rule = GRAD_RULES[node.op];
    if (!rule) throw new GradientError(`no gradient rule for op ${node.op} (node '${node.name}'); add one to rules.ts or declare it in NO_GRADIENT`);
    const needs = node.inputs.map((v) => !!v && forward.has(v.name) && isFloat(v.dtype));
    const grads = g.scope(`grad`, () => rule({ g, node, attrs: node.attrs, x: node.inputs, y: node.outputs, dy, needs }));
    node.inputs.forEach((v, k) => {
      const d = grads[k];
      if (v && needs[k] && d) push(route(v), unbroadcast(d, v.shape));
    });
  };

  const constants = loadTimeConstants(g, end);
  const isConstant = (v: Value) => constants.has(v);
  type InnerRegion = CheckpointRegion & { depth: number };
  /**
   * Re-emits a checkpoint region and differentiates the copy. The copy's float operands from outside the region
   * pass through `+ 0·dy[0]` (a zero that exists only once the backward got here): onnxruntime can neither merge
   * the copy with the original (common-subexpression elimination) nor schedule it early, during the forward.
   * `inner` are the regions nested in it (depth 1 = directly inside): the copy's own inner regions are recomputed
   * once more when the copy's backward reaches them, so a checkpointed block does not keep its attention maps
   * while its backward runs. `outerRoute` sends a gradient to the value it belongs to in the enclosing copy.
   * A region with its own backward (`custom`) is not copied: its backward is built on its fenced reads instead.
   */
  const recompute = (r: CheckpointRegion, inner: InnerRegion[], outerRoute: (v: Value) => Value) => {
    const firstNode = g.nodes.length;
    const nodes = g.nodes.slice(r.start, r.end);
    const produced = new Set(nodes.flatMap((n) => n.outputs.map((o) => o.name)));
    const outs = r.custom ? [r.custom.output].filter((o) => pending.has(o.name)) : nodes.flatMap((n) => n.outputs).filter((o) => pending.has(o.name));
    if (!outs.length) return;
    const dOut = total(outs[0])!;
    const zero = carry?.dtype === dOut.dtype ? g.scope('grad', () => add(zeroAfter(dOut), carry!)) : zeroAfter(dOut);
    const fence = (v: Value) => (isConstant(v) || v.dtype !== zero.dtype || v.rank === 0 ? v : g.scope('recompute', () => add(v, zero)));
    const copyOf = new Map<string, Value>();
    const originalOf = new Map<string, Value>();
    const operand = (v: Value | null): Value | null => {
      if (!v) return null;
      const copied = copyOf.get(v.name);
      if (copied) return copied;
      if (produced.has(v.name)) throw new GradientError(`checkpoint region: ${v} is used before it is produced`);
      const fenced = fence(v);
      if (fenced === v) return v;
      copyOf.set(v.name, fenced);
      originalOf.set(fenced.name, v);
      if (forward.has(v.name)) forward.add(fenced.name);
      return fenced;
    };
    const pushed = new Map<string, Value>();
    const leaveRegion = () => {
      leaving.pop();
      // values made while this region's backward ran (its copy, nested copies, their gradients) are its own business
      const inside = new Set(g.nodes.slice(firstNode).flatMap((n) => n.outputs.map((o) => o.name)));
      for (const [target, d] of pushed) {
        if (inside.has(target) || d.dtype !== 'float32') continue;
        carry = carry ? g.scope('grad', () => add(carry!, zeroAfter(d))) : zeroAfter(d);
      }
    };
    if (r.custom) {
      const { reads, output, backward } = r.custom;
      leaving.push(pushed);
      const grads = g.scope('recompute', () => backward(reads.map(fence), output, dOut));
      reads.forEach((v, k) => {
        const d = grads[k];
        if (d && forward.has(v.name) && isFloat(v.dtype)) push(outerRoute(v), unbroadcast(d, v.shape));
      });
      leaveRegion();
      return;
    }
    const copies: { node: Node; at: number }[] = [];
    // where each original node's copy (with the fences emitted for it) lands: [before[k], after[k])
    const before: number[] = [];
    const after: number[] = [];
    g.scope('recompute', () => {
      nodes.forEach((n, k) => {
        before[k] = g.nodes.length;
        // a weight's Cast to float32 and the like: constants, folded once by onnxruntime — the original serves
        if (constants.has(n.outputs[0])) n.outputs.forEach((o) => copyOf.set(o.name, o));
        else {
          const ys = g.node(n.op, n.inputs.map(operand), n.attrs, { outputs: n.outputs.length, domain: n.domain });
          n.outputs.forEach((o, j) => {
            copyOf.set(o.name, ys[j]);
            if (forward.has(o.name)) forward.add(ys[j].name);
          });
          copies.push({ node: g.nodes[g.nodes.length - 1], at: g.nodes.length - 1 });
        }
        after[k] = g.nodes.length;
      });
    });
    // the nested regions, moved onto the copy and one level up
    const moved = inner
      .filter((c) => c.start >= r.start && c.end <= r.end)
      .map((c): InnerRegion => ({
        start: before[c.start - r.start],
        end: after[c.end - 1 - r.start],
        depth: c.depth - 1,
        ...(c.custom && { custom: { ...c.custom, reads: c.custom.reads.map((v) => copyOf.get(v.name) ?? v), output: copyOf.get(c.custom.output.name)! } }),
      }))
      .filter((c) => c.end > c.start);
    const children = moved.filter((c) => c.depth === 0);
    const deeper = moved.filter((c) => c.depth > 0);
    const route = (v: Value) => outerRoute(originalOf.get(v.name) ?? v);
    for (const o of outs) push(copyOf.get(o.name)!, total(o)!);
    leaving.push(pushed);
    const done = new Set<CheckpointRegion>();
    for (let i = copies.length - 1; i >= 0; i--) {
      const child = children.find((c) => copies[i].at >= c.start && copies[i].at < c.end);
      if (!child) {
        if (onForwardPath(copies[i].node)) backprop(copies[i].node, route);
      } else if (!done.has(child)) {
        done.add(child);
        recompute(child, deeper, route);
      }
    }
    leaveRegion();
  };

  push(loss, seed ?? full(g, [...loss.shape], 1, loss.dtype));
  const done = new Set<CheckpointRegion>();
  for (let k = onPath.length - 1; k >= 0; k--) {
    const region = regionOf.get(onPath[k]);
    if (!region) backprop(g.nodes[onPath[k]]);
    else if (!done.has(region)) {
      done.add(region);
      recompute(region, g.innerCheckpoints, (v) => v);
    }
  }
  return wrt.map((v) => total(v) ?? full(g, [...v.shape], 0, v.dtype));
}
