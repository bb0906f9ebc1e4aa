// A tiny UNet-like block for end-to-end tests and the bench: conv → groupNorm → SiLU → self-attention over spatial
// tokens with LoRA on q, v and out → residual → 1×1 conv head. Not a test file: test/composed.test.ts and bench/graph.ts use it.
import type { HostTensor } from '../src/dtype.ts';
import { grad } from '../src/autodiff.ts';
import { Graph, type Value } from '../src/graph.ts';
import * as o from '../src/ops.ts';
import { adamw, clipGradNorm } from '../src/optim.ts';
import { seededNormal } from '../src/testing/gradcheck.ts';
import { normal } from './helpers.ts';

export const NET = { n: 2, cin: 4, c: 8, h: 6, w: 6, rank: 2, alpha: 2, groups: 2 } as const;

/** Frozen weights: become initializers. */
export function frozenWeights(): Record<string, HostTensor> {
  const { cin, c } = NET;
  return {
    'conv_in.weight': normal([c, cin, 3, 3], 1, 0.25),
    'conv_in.bias': normal([c], 2, 0.1),
    'norm.weight': { dtype: 'float32', shape: [c], data: seededNormal(c, 3, 0.1).map((x) => 1 + x) },
    'norm.bias': normal([c], 4, 0.1),
    'to_q.weight': normal([c, c], 5, 0.35),
    'to_k.weight': normal([c, c], 6, 0.35),
    'to_v.weight': normal([c, c], 7, 0.35),
    'to_out.weight': normal([c, c], 8, 0.35),
  };
}

/** Trainable tensors: LoRA A/B on q, v, out, and the output head. `seedShift` makes a different (teacher) set. */
export function trainableInit(seedShift = 0, bScale = 0.05): Record<string, HostTensor> {
  const { cin, c, rank } = NET;
  const out: Record<string, HostTensor> = {};
  ['to_q', 'to_v', 'to_out'].forEach((m, i) => {
    out[`${m}.lora_A.weight`] = normal([rank, c], 20 + i + seedShift, 0.3);
    out[`${m}.lora_B.weight`] = normal([c, rank], 30 + i + seedShift, bScale);
  });
  out['conv_out.weight'] = normal([cin, c, 1, 1], 40 + seedShift, 0.3);
  out['conv_out.bias'] = normal([cin], 41 + seedShift, 0.1);
  return out;
}

function loraLinear(x: Value, w: Value, a: Value | undefined, b: Value | undefined): Value {
  const base = o.linear(x, w);
  if (!a || !b) return base;
  return o.add(base, o.mul(o.linear(o.linear(x, a), b), NET.alpha / NET.rank));
}

/** The forward pass; `p` maps every weight name (frozen or trainable) to a graph value. */
export function forward(x: Value, p: Record<string, Value>): Value {
  const { n, c, h, w, groups } = NET;
  let y = o.conv(x, p['conv_in.weight'], p['conv_in.bias'], { pads: [1, 1, 1, 1] });
  y = o.silu(o.groupNorm(y, groups, p['norm.weight'], p['norm.bias'], 1e-6));
  const tokens = o.transpose(o.reshape(y, [n, c, h * w]), [0, 2, 1]); // [N, HW, C]
  const q = loraLinear(tokens, p['to_q.weight'], p['to_q.lora_A.weight'], p['to_q.lora_B.weight']);
  const k = loraLinear(tokens, p['to_k.weight'], undefined, undefined);
  const v = loraLinear(tokens, p['to_v.weight'], p['to_v.lora_A.weight'], p['to_v.lora_B.weight']);
  const scores = o.mul(o.matmul(q, o.transpose(k, [0, 2, 1])), 1 / Math.sqrt(c));
  const attn = o.matmul(o.softmax(scores, -1), v);
  const mixed = o.add(loraLinear(attn, p['to_out.weight'], p['to_out.lora_A.weight'], p['to_out.lora_B.weight']), tokens);
  const back = o.reshape(o.transpose(mixed, [0, 2, 1]), [n, c, h, w]);
  return o.conv(back, p['conv_out.weight'], p['conv_out.bias']);
}

export const mse = (pred: Value, target: Value) => o.reduceMean(o.square(o.sub(pred, target)));

/**
 * One whole training step as one graph: forward, backward, clipGradNorm(1.0), AdamW.
 * Inputs: x, target, step, lr, and for each trainable name `<name>`, `m.<name>`, `v.<name>`.
 * Outputs: loss, grad_norm, `new.<name>`, `new_m.<name>`, `new_v.<name>`.
 */
export function trainingStep(frozen: Record<string, HostTensor>, trainable: Record<string, HostTensor>, opts = { maxNorm: 1, weightDecay: 1e-2 }): Graph {
  const g = new Graph();
  const { n, cin, h, w } = NET;
  const x = g.input('x', 'float32', [n, cin, h, w]);
  const target = g.input('target', 'float32', [n, cin, h, w]);
  const step = g.input('step', 'float32', []);
  const lr = g.input('lr', 'float32', []);
  const names = Object.keys(trainable);
  const p: Record<string, Value> = {};
  for (const [k, v] of Object.entries(frozen)) p[k] = g.initializer(k, v);
  const params = names.map((k) => (p[k] = g.input(k, 'float32', trainable[k].shape)));
  const ms = names.map((k) => g.input(`m.${k}`, 'float32', trainable[k].shape));
  const vs = names.map((k) => g.input(`v.${k}`, 'float32', trainable[k].shape));
  const loss = mse(forward(x, p), target);
  const clipped = clipGradNorm(grad(loss, params), opts.maxNorm);
  const upd = adamw(params, clipped.grads, ms, vs, step, lr, { weightDecay: opts.weightDecay });
  g.output('loss', loss);
  g.output('grad_norm', clipped.norm);
  names.forEach((k, i) => {
    g.output(`new.${k}`, upd.params[i]);
    g.output(`new_m.${k}`, upd.m[i]);
    g.output(`new_v.${k}`, upd.v[i]);
  });
  return g;
}
