import { ConfigError } from '../unet/config.ts';

export type ClipActivation = 'quick_gelu' | 'gelu';

/** transformers' CLIPTextConfig (text_encoder/config.json), validated: fields that change the forward are read or refused. */
export interface ClipTextConfig {
  hidden_size: number;
  intermediate_size: number;
  num_attention_heads: number;
  num_hidden_layers: number;
  vocab_size: number;
  max_position_embeddings: number;
  hidden_act: ClipActivation;
  layer_norm_eps: number;
  /** 2 in legacy configs (SD1.x): the pooled token is then the position of the largest id. */
  eos_token_id: number;
  /** CLIPTextModelWithProjection (SDXL's text_encoder_2): width of `text_projection` (no bias) on the pooled state; null for CLIPTextModel. */
  projection_dim: number | null;
}

const ACTIVATIONS = new Set<string>(['quick_gelu', 'gelu']);

/** Fields read below. */
const HANDLED = new Set([
  'hidden_size', 'intermediate_size', 'num_attention_heads', 'num_hidden_layers', 'vocab_size', 'max_position_embeddings',
  'hidden_act', 'layer_norm_eps', 'eos_token_id', 'architectures', 'model_type', 'projection_dim',
]);

/** Fields with no effect on an inference forward pass (training-time dropout, init, ids used only by generation, bookkeeping). */
const NO_EFFECT = new Set([
  'attention_dropout', 'dropout', 'initializer_factor', 'initializer_range', 'bos_token_id', 'pad_token_id',
  'dtype', 'torch_dtype', 'transformers_version', 'use_cache', 'gradient_checkpointing', 'output_attentions', 'output_hidden_states',
  'return_dict', 'id2label', 'label2id', 'tie_word_embeddings', 'is_encoder_decoder', 'is_decoder', 'add_cross_attention',
]);

/** CLIPTextModelWithProjection adds `text_projection` on the pooled state; CLIPTextModel ignores projection_dim. */
const ARCHITECTURES = new Set(['CLIPTextModel', 'CLIPTextModelWithProjection']);

export function parseClipTextConfig(raw: Record<string, unknown>): ClipTextConfig {
  const problems: string[] = [];
  for (const k of Object.keys(raw)) if (!k.startsWith('_') && !HANDLED.has(k) && !NO_EFFECT.has(k)) problems.push(`unknown field ${k}`);
  const act = raw.hidden_act ?? 'quick_gelu';
  if (typeof act !== 'string' || !ACTIVATIONS.has(act))
    problems.push(`hidden_act=${JSON.stringify(act)} is not supported (only ${[...ACTIVATIONS].join(', ')})`);
  if ('model_type' in raw && raw.model_type !== 'clip_text_model') problems.push(`model_type=${JSON.stringify(raw.model_type)} is not supported (only clip_text_model)`);
  const arch = raw.architectures;
  if (arch !== undefined && !(Array.isArray(arch) && arch.every((a) => ARCHITECTURES.has(a))))
    problems.push(`architectures=${JSON.stringify(arch)} is not supported (only ${[...ARCHITECTURES].join(', ')})`);

  const int = (k: string, fallback?: number): number => {
    const v = raw[k] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      problems.push(`${k} must be a positive integer, got ${JSON.stringify(raw[k])}`);
      return 1;
    }
    return v;
  };
  const cfg = {
    hidden_size: int('hidden_size', 512),
    intermediate_size: int('intermediate_size', 2048),
    num_attention_heads: int('num_attention_heads', 8),
    num_hidden_layers: int('num_hidden_layers', 12),
    vocab_size: int('vocab_size', 49408),
    max_position_embeddings: int('max_position_embeddings', 77),
    hidden_act: act as ClipActivation,
    layer_norm_eps: (raw.layer_norm_eps as number) ?? 1e-5,
    eos_token_id: (raw.eos_token_id as number) ?? 2,
    projection_dim: null as number | null,
  };
  if (Array.isArray(arch) && arch.includes('CLIPTextModelWithProjection')) cfg.projection_dim = int('projection_dim', 512);
  if (typeof cfg.layer_norm_eps !== 'number' || !(cfg.layer_norm_eps > 0)) problems.push(`layer_norm_eps must be a positive number, got ${JSON.stringify(raw.layer_norm_eps)}`);
  if (!Number.isInteger(cfg.eos_token_id)) problems.push(`eos_token_id must be an integer, got ${JSON.stringify(raw.eos_token_id)}`);
  if (cfg.hidden_size % cfg.num_attention_heads)
    problems.push(`hidden_size ${cfg.hidden_size} is not divisible by num_attention_heads ${cfg.num_attention_heads}`);
  if (problems.length) throw new ConfigError(`text encoder config: ${problems.join('; ')}`);
  return cfg;
}
