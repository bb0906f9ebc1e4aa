import {
  add, argmax, cast, concat, equal, gather, gelu, quickGelu, reshape, slice, unsqueeze, where, and, type Graph, type Value,
} from '@npo/graph';
import { layerNormAt, linearAt, multiHeadAttention, param, type ModelContext } from '../model/context.ts';
import type { ClipTextConfig } from './clip-config.ts';

/** torch.finfo(float32).min: what transformers adds for masked keys (finite, so no row ever turns into NaN). */
const MASKED = -3.4028234663852886e38;

export interface ClipTextOutputs {
  /** [B, S, D], after final_layer_norm */
  lastHiddenState: Value;
  /** [B, D]: the hidden state at the EOS position */
  pooled: Value;
  /** int64 [B]: that position */
  pooledIndex: Value;
  /** [L + 1, B, S, D]: embeddings, then every layer's output (before final_layer_norm); [-2] is "clip skip" */
  hiddenStates: Value[];
  /** CLIPTextModelWithProjection: [B, projection_dim], `text_projection` of the pooled state; null otherwise. */
  textEmbeds: Value | null;
}

/** Causal mask [S, S] as booleans: query i may see keys j ≤ i. */
function causalAllowed(g: Graph, s: number): Value {
  const data = new Uint8Array(s * s);
  for (let i = 0; i < s; i++) for (let j = 0; j <= i; j++) data[i * s + j] = 1;
  return g.initializer(g.freshName('causal_mask'), { dtype: 'bool', shape: [1, 1, s, s], data });
}

/** Additive attention mask [B|1, 1, S, S]: causal, plus padding keys when `attentionMask` (int64 [B, S], 1 = keep) is given. */
function additiveMask(g: Graph, s: number, attentionMask: Value | null): Value {
  let allowed = causalAllowed(g, s);
  if (attentionMask) {
    const [b] = attentionMask.shape;
    const keys = reshape(cast(attentionMask, 'bool'), [b, 1, 1, s]);
    allowed = and(allowed, keys);
  }
  return where(allowed, 0, MASKED);
}

/** CLIPAttention (eager): heads of D/heads, softmax(q·kᵀ/√d + mask)·v, out_proj. */
function selfAttention(ctx: ModelContext, path: string, x: Value, mask: Value, heads: number): Value {
  return ctx.g.module(path, () => {
    const q = linearAt(ctx, `${path}.q_proj`, x);
    const k = linearAt(ctx, `${path}.k_proj`, x);
    const v = linearAt(ctx, `${path}.v_proj`, x);
    return linearAt(ctx, `${path}.out_proj`, multiHeadAttention(q, k, v, heads, mask));
  });
}

function encoderLayer(ctx: ModelContext, cfg: ClipTextConfig, path: string, x: Value, mask: Value): Value {
  return ctx.g.module(path, () => {
    const eps = cfg.layer_norm_eps;
    x = add(x, selfAttention(ctx, `${path}.self_attn`, layerNormAt(ctx, `${path}.layer_norm1`, x, eps), mask, cfg.num_attention_heads));
    const act = cfg.hidden_act === 'quick_gelu' ? quickGelu : gelu;
    const h = linearAt(ctx, `${path}.mlp.fc2`, act(linearAt(ctx, `${path}.mlp.fc1`, layerNormAt(ctx, `${path}.layer_norm2`, x, eps))));
    return add(x, h);
  });
}

/**
 * The pooled position per row. Legacy configs (eos_token_id 2, as SD1.x ships) take the largest id, which is
 * the real EOS in CLIP's vocabulary; others the first position holding eos_token_id. ArgMax returns the first
 * maximum, as torch does.
 */
function pooledPositions(cfg: ClipTextConfig, inputIds: Value): Value {
  const ids32 = cast(inputIds, 'int32');
  const scores = cfg.eos_token_id === 2 ? ids32 : cast(equal(inputIds, inputIds.graph.scalar(cfg.eos_token_id, 'int64')), 'int32');
  return argmax(scores, 1);
}

/**
 * Where the text transformer's tensors live: `text_model.` (the checkpoints diffusers folders ship) or the root
 * (transformers 5 writes a CLIPTextModel's tensors without that prefix; `text_projection` is at the root either way).
 */
function clipWeightRoot(ctx: ModelContext): string {
  const bare = 'embeddings.token_embedding.weight';
  return !ctx.weights.has(`text_model.${bare}`) && ctx.weights.has(bare) ? '' : 'text_model.';
}

/**
 * transformers CLIPTextModel.forward as graph nodes, weights under their own names (`text_model.…`).
 * `inputIds` is int64 [B, S]; `attentionMask` (int64 [B, S]) is optional: SD pipelines use the causal mask only.
 */
export function clipTextForward(ctx: ModelContext, cfg: ClipTextConfig, inputIds: Value, attentionMask: Value | null = null): ClipTextOutputs {
  const { g } = ctx;
  const [b, s] = inputIds.shape;
  if (s > cfg.max_position_embeddings) throw new Error(`CLIP text model: ${s} tokens, max_position_embeddings is ${cfg.max_position_embeddings}`);
  const D = cfg.hidden_size;
  const root = clipWeightRoot(ctx);
  const tokenTable = param(ctx, `${root}embeddings.token_embedding.weight`, [cfg.vocab_size, D]);
  const positionTable = param(ctx, `${root}embeddings.position_embedding.weight`, [cfg.max_position_embeddings, D]);
  const positions = s === cfg.max_position_embeddings ? positionTable : slice(positionTable, [0], [0], [s]);
  let x = g.module(`${root}embeddings`, () => add(gather(tokenTable, inputIds, 0), positions));

  const mask = additiveMask(g, s, attentionMask);
  const hiddenStates = [x];
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    x = encoderLayer(ctx, cfg, `${root}encoder.layers.${i}`, x, mask);
    hiddenStates.push(x);
  }
  const last = layerNormAt(ctx, `${root}final_layer_norm`, x, cfg.layer_norm_eps);

  // Gather row b·S + position[b] of the flattened [B·S, D] states.
  const pooledIndex = pooledPositions(cfg, inputIds);
  const rowStarts = g.ints(Array.from({ length: b }, (_, i) => i * s));
  const pooled = gather(reshape(last, [b * s, D]), add(pooledIndex, rowStarts), 0);
  const textEmbeds = cfg.projection_dim === null ? null : linearAt(ctx, 'text_projection', pooled);
  return { lastHiddenState: last, pooled, pooledIndex, hiddenStates, textEmbeds };
}

/** The hidden states stacked into one [L + 1, B, S, D] tensor (the layout transformers returns). */
export function stackHiddenStates(states: Value[]): Value {
  return concat(states.map((h) => unsqueeze(h, [0])), 0);
}

/** transformers' hidden_states[-2]: the output of the second-to-last layer, before final_layer_norm (SDXL conditions on it). */
export function penultimateHiddenState(out: ClipTextOutputs): Value {
  return out.hiddenStates[out.hiddenStates.length - 2];
}
