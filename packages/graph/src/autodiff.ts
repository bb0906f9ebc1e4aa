import { isFloat } from './dtype.ts';
import type { Attrs, Graph, Node, Value } from './graph.ts';
import { add, full, reduceSum, reshape } from './ops.ts';
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
 */
export function grad(loss: Value, wrt: Value[], seed?: Value): Value[] {
  const g = loss.graph;
  const forward = new Set<string>(wrt.map((v) => v.name));
  const onPath: Node[] = [];
  const end = g.nodes.length;
  for (let i = 0; i < end; i++) {
    const n = g.nodes[i];
    if (n.inputs.some((v) => v && forward.has(v.name))) {
      n.outputs.forEach((o) => forward.add(o.name));
      onPath.push(n);
    }
  }
  if (!forward.has(loss.name)) throw new GradientError(`loss ${loss} does not depend on any of the requested values`);

  const pending = new Map<string, Value[]>();
  const push = (v: Value, d: Value) => {
    const list = pending.get(v.name);
    if (list) list.push(d);
    else pending.set(v.name, [d]);
  };
  const total = (v: Value): Value | null => {
    const list = pending.get(v.name);
    if (!list?.length) return null;
    const sum = list.reduce((a, b) => add(a, b));
    pending.set(v.name, [sum]);
    return sum;
  };
  push(loss, seed ?? full(g, [...loss.shape], 1, loss.dtype));

  for (let i = onPath.length - 1; i >= 0; i--) {
    const node = onPath[i];
    if (NO_GRADIENT.has(node.op)) continue;
    const dy = node.outputs.map(total);
    if (dy.every((d) => d === null)) continue;
    const rule = GRAD_RULES[node.op];
    if (!rule) throw new GradientError(`no gradient rule for op ${node.op} (node '${node.name}'); add one to rules.ts or declare it in NO_GRADIENT`);
    const needs = node.inputs.map((v) => !!v && forward.has(v.name) && isFloat(v.dtype));
    const grads = g.scope(`grad`, () => rule({ g, node, attrs: node.attrs, x: node.inputs, y: node.outputs, dy, needs }));
    node.inputs.forEach((v, k) => {
      const d = grads[k];
      if (v && needs[k] && d) push(v, unbroadcast(d, v.shape));
    });
  }
  return wrt.map((v) => total(v) ?? full(g, [...v.shape], 0, v.dtype));
}
