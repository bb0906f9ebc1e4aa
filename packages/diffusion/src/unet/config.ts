/** diffusers' UNet2DConditionModel config, validated: what we build is exactly what the config says, or we refuse. */
export interface UNetConfig {
  in_channels: number;
  out_channels: number;
  block_out_channels: number[];
  down_block_types: string[];
  up_block_types: string[];
  mid_block_type: string;
  layers_per_block: number;
  /** Heads per block (diffusers' quirk: `attention_head_dim` is really the head count). */
  heads: number[];
  transformer_layers_per_block: number[];
  cross_attention_dim: number;
  norm_num_groups: number;
  norm_eps: number;
  use_linear_projection: boolean;
  flip_sin_to_cos: boolean;
  freq_shift: number;
  downsample_padding: number;
  mid_block_scale_factor: number;
  conv_in_kernel: number;
  conv_out_kernel: number;
  time_embedding_dim: number;
  center_input_sample: boolean;
  sample_size: number;
  /** SDXL's `addition_embed_type: "text_time"` (pooled text embedding + micro-conditioning), or null. */
  addition: TextTimeConfig | null;
}

/**
 * diffusers' text_time additional embedding: `add_time_proj` (a sinusoid of width `time_embed_dim` per time id)
 * and `add_embedding` (TimestepEmbedding from `projection_input_dim` = pooled width + time ids × `time_embed_dim`).
 */
export interface TextTimeConfig {
  time_embed_dim: number;
  projection_input_dim: number;
}

/** SDXL's micro-conditioning per image: original size (h, w), crop top-left (y, x), target size (h, w). */
export const TIME_IDS = 6;

export class ConfigError extends Error {
  readonly code = 'unsupported_model_config';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const DOWN = new Set(['DownBlock2D', 'CrossAttnDownBlock2D']);
const UP = new Set(['UpBlock2D', 'CrossAttnUpBlock2D']);

/** Fields we implement (values read below), and fields accepted only at their default (null/false/…). */
const HANDLED = new Set([
  'in_channels', 'out_channels', 'block_out_channels', 'down_block_types', 'up_block_types', 'mid_block_type', 'layers_per_block',
  'attention_head_dim', 'num_attention_heads', 'transformer_layers_per_block', 'cross_attention_dim', 'norm_num_groups', 'norm_eps',
  'use_linear_projection', 'flip_sin_to_cos', 'freq_shift', 'downsample_padding', 'mid_block_scale_factor', 'conv_in_kernel',
  'conv_out_kernel', 'time_embedding_dim', 'center_input_sample', 'sample_size', 'act_fn', 'dropout', 'upcast_attention',
  'attention_type', 'only_cross_attention', 'dual_cross_attention', 'resnet_time_scale_shift', 'time_embedding_type',
  'addition_embed_type', 'addition_time_embed_dim', 'projection_class_embeddings_input_dim',
]);
const DEFAULT_ONLY: Record<string, unknown[]> = {
  // Read only by addition_embed_type "text" (refused below), so any value is inert.
  addition_embed_type_num_heads: [64, null],
  class_embed_type: [null],
  class_embeddings_concat: [false],
  cross_attention_norm: [null],
  encoder_hid_dim: [null],
  encoder_hid_dim_type: [null],
  mid_block_only_cross_attention: [null, false],
  num_class_embeds: [null],
  resnet_out_scale_factor: [1, 1.0],
  resnet_skip_time_act: [false],
  reverse_transformer_layers_per_block: [null],
  time_cond_proj_dim: [null],
  time_embedding_act_fn: [null],
  timestep_post_act: [null],
};

function perBlock(v: unknown, n: number, field: string): number[] {
  if (typeof v === 'number') return Array(n).fill(v);
  if (Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number')) return v as number[];
  throw new ConfigError(`${field} must be a number or a list of ${n} numbers, got ${JSON.stringify(v)}`);
}

export function parseUNetConfig(raw: Record<string, unknown>): UNetConfig {
  const problems: string[] = [];
  for (const [k, v] of Object.entries(raw)) {
    if (k.startsWith('_') || HANDLED.has(k)) continue;
    if (k in DEFAULT_ONLY) {
      if (!DEFAULT_ONLY[k].includes(v as never)) problems.push(`${k}=${JSON.stringify(v)} is not supported yet`);
    } else problems.push(`unknown field ${k}`);
  }
  const expect = (k: string, ok: (v: unknown) => boolean, what: string) => {
    if (k in raw && !ok(raw[k])) problems.push(`${k}=${JSON.stringify(raw[k])} is not supported (${what})`);
  };
  expect('act_fn', (v) => v === 'silu', 'only silu');
  expect('attention_type', (v) => v === 'default', 'only default');
  expect('only_cross_attention', (v) => v === false, 'only false');
  expect('dual_cross_attention', (v) => v === false, 'only false');
  expect('resnet_time_scale_shift', (v) => v === 'default', 'only default');
  expect('time_embedding_type', (v) => v === 'positional', 'only positional');
  expect('mid_block_type', (v) => v === 'UNetMidBlock2DCrossAttn', 'only UNetMidBlock2DCrossAttn');
  expect('num_attention_heads', (v) => v === null, 'diffusers itself rejects it for this model; use attention_head_dim');
  expect('addition_embed_type', (v) => v === null || v === 'text_time', 'only null or "text_time"');
  const addition = parseTextTime(raw, problems);
  const down = (raw.down_block_types as string[]) ?? [];
  const up = (raw.up_block_types as string[]) ?? [];
  down.forEach((t) => DOWN.has(t) || problems.push(`down block type ${t} is not supported`));
  up.forEach((t) => UP.has(t) || problems.push(`up block type ${t} is not supported`));
  if (problems.length) throw new ConfigError(`UNet config: ${problems.join('; ')}`);

  const blocks = raw.block_out_channels as number[];
  if (!Array.isArray(blocks) || !blocks.length) throw new ConfigError('UNet config: block_out_channels must be a non-empty list');
  if (down.length !== blocks.length || up.length !== blocks.length)
    throw new ConfigError(`UNet config: ${blocks.length} block_out_channels but ${down.length} down and ${up.length} up block types`);
  if (typeof raw.cross_attention_dim !== 'number') throw new ConfigError('UNet config: cross_attention_dim must be a number (per-block lists are not supported)');
  const n = blocks.length;
  const heads = perBlock(raw.attention_head_dim ?? 8, n, 'attention_head_dim');
  blocks.forEach((c, i) => {
    if (c % heads[i]) throw new ConfigError(`UNet config: block ${i} has ${c} channels, not divisible by ${heads[i]} heads`);
  });
  const groups = (raw.norm_num_groups as number) ?? 32;
  blocks.forEach((c) => {
    if (c % groups) throw new ConfigError(`UNet config: ${c} channels are not divisible by norm_num_groups=${groups}`);
  });
  return {
    in_channels: (raw.in_channels as number) ?? 4,
    out_channels: (raw.out_channels as number) ?? 4,
    block_out_channels: blocks,
    down_block_types: down,
    up_block_types: up,
    mid_block_type: 'UNetMidBlock2DCrossAttn',
    layers_per_block: (raw.layers_per_block as number) ?? 2,
    heads,
    transformer_layers_per_block: perBlock(raw.transformer_layers_per_block ?? 1, n, 'transformer_layers_per_block'),
    cross_attention_dim: raw.cross_attention_dim as number,
    norm_num_groups: groups,
    norm_eps: (raw.norm_eps as number) ?? 1e-5,
    use_linear_projection: (raw.use_linear_projection as boolean) ?? false,
    flip_sin_to_cos: (raw.flip_sin_to_cos as boolean) ?? true,
    freq_shift: (raw.freq_shift as number) ?? 0,
    downsample_padding: (raw.downsample_padding as number) ?? 1,
    mid_block_scale_factor: (raw.mid_block_scale_factor as number) ?? 1,
    conv_in_kernel: (raw.conv_in_kernel as number) ?? 3,
    conv_out_kernel: (raw.conv_out_kernel as number) ?? 3,
    time_embedding_dim: (raw.time_embedding_dim as number) ?? blocks[0] * 4,
    center_input_sample: (raw.center_input_sample as boolean) ?? false,
    sample_size: (raw.sample_size as number) ?? 64,
    addition,
  };
}

const positiveInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 0;

/** The text_time fields: both sizes present and consistent, or (addition_embed_type null) absent/null. */
function parseTextTime(raw: Record<string, unknown>, problems: string[]): TextTimeConfig | null {
  const dim = raw.addition_time_embed_dim ?? null;
  const proj = raw.projection_class_embeddings_input_dim ?? null;
  if (raw.addition_embed_type !== 'text_time') {
    if (dim !== null) problems.push(`addition_time_embed_dim=${JSON.stringify(dim)} is set but addition_embed_type is not "text_time"`);
    // projection_class_embeddings_input_dim also feeds class_embed_type "projection", which is refused by its own field.
    if (proj !== null) problems.push(`projection_class_embeddings_input_dim=${JSON.stringify(proj)} is set but addition_embed_type is not "text_time"`);
    return null;
  }
  if (!positiveInt(dim)) problems.push(`addition_time_embed_dim=${JSON.stringify(dim)} must be a positive integer for addition_embed_type "text_time"`);
  else if ((dim as number) % 2) problems.push(`addition_time_embed_dim=${dim} must be even (half sines, half cosines)`);
  if (!positiveInt(proj)) problems.push(`projection_class_embeddings_input_dim=${JSON.stringify(proj)} must be a positive integer for addition_embed_type "text_time"`);
  else if (positiveInt(dim) && (proj as number) <= TIME_IDS * (dim as number))
    problems.push(`projection_class_embeddings_input_dim=${proj} leaves no room for the pooled text embedding beside ${TIME_IDS} × addition_time_embed_dim=${dim}`);
  return { time_embed_dim: dim as number, projection_input_dim: proj as number };
}

/** Width of the pooled text embedding a text_time UNet takes (projection input minus the time ids' sinusoids). */
export function pooledEmbedWidth(addition: TextTimeConfig): number {
  return addition.projection_input_dim - TIME_IDS * addition.time_embed_dim;
}
