import { ConfigError } from '../unet/config.ts';

/** diffusers' AutoencoderKL config (vae/config.json), validated: what we build is exactly what the config says, or we refuse. */
export interface VaeConfig {
  in_channels: number;
  out_channels: number;
  block_out_channels: number[];
  layers_per_block: number;
  latent_channels: number;
  norm_num_groups: number;
  /** latents = (mean − shift_factor) × scaling_factor; decode inverts it. */
  scaling_factor: number;
  shift_factor: number;
  use_quant_conv: boolean;
  use_post_quant_conv: boolean;
  mid_block_add_attention: boolean;
}

/** Fields we implement (values read below). */
const HANDLED = new Set([
  'in_channels', 'out_channels', 'block_out_channels', 'down_block_types', 'up_block_types', 'layers_per_block', 'latent_channels',
  'norm_num_groups', 'scaling_factor', 'shift_factor', 'use_quant_conv', 'use_post_quant_conv', 'mid_block_add_attention', 'act_fn',
]);
/** Fields with no effect on the graph: the native resolution hint and the fp16-pipeline upcast hint (we compute in float32). */
const NO_EFFECT = new Set(['sample_size', 'force_upcast']);
/** Fields accepted only at their default: per-channel latent statistics are a pipeline-level normalization we do not apply. */
const DEFAULT_ONLY: Record<string, unknown[]> = { latents_mean: [null], latents_std: [null] };

export function parseVaeConfig(raw: Record<string, unknown>): VaeConfig {
  const problems: string[] = [];
  for (const [k, v] of Object.entries(raw)) {
    if (k.startsWith('_') || HANDLED.has(k) || NO_EFFECT.has(k)) continue;
    if (k in DEFAULT_ONLY) {
      if (!DEFAULT_ONLY[k].includes(v)) problems.push(`${k}=${JSON.stringify(v)} is not supported yet`);
    } else problems.push(`unknown field ${k}`);
  }
  if ('act_fn' in raw && raw.act_fn !== 'silu') problems.push(`act_fn=${JSON.stringify(raw.act_fn)} is not supported (only silu)`);
  const blocks = raw.block_out_channels ?? [64];
  if (!Array.isArray(blocks) || !blocks.length || !blocks.every((c) => Number.isInteger(c) && c > 0))
    throw new ConfigError(`VAE config: block_out_channels must be a non-empty list of positive integers, got ${JSON.stringify(blocks)}`);
  const n = blocks.length;
  const down = (raw.down_block_types as string[]) ?? Array(n).fill('DownEncoderBlock2D');
  const up = (raw.up_block_types as string[]) ?? Array(n).fill('UpDecoderBlock2D');
  down.forEach((t) => t === 'DownEncoderBlock2D' || problems.push(`down block type ${t} is not supported (only DownEncoderBlock2D)`));
  up.forEach((t) => t === 'UpDecoderBlock2D' || problems.push(`up block type ${t} is not supported (only UpDecoderBlock2D)`));
  if (down.length !== n || up.length !== n) problems.push(`${n} block_out_channels but ${down.length} down and ${up.length} up block types`);
  const groups = (raw.norm_num_groups as number) ?? 32;
  blocks.forEach((c: number) => c % groups && problems.push(`${c} channels are not divisible by norm_num_groups=${groups}`));
  const scaling = raw.scaling_factor ?? 0.18215;
  if (typeof scaling !== 'number' || !(scaling > 0)) problems.push(`scaling_factor must be a positive number, got ${JSON.stringify(raw.scaling_factor)}`);
  const shift = raw.shift_factor ?? 0;
  if (typeof shift !== 'number') problems.push(`shift_factor must be a number or null, got ${JSON.stringify(raw.shift_factor)}`);
  const bool = (k: string) => {
    const v = raw[k] ?? true;
    if (typeof v !== 'boolean') problems.push(`${k} must be true or false, got ${JSON.stringify(v)}`);
    return v as boolean;
  };
  const cfg: VaeConfig = {
    in_channels: (raw.in_channels as number) ?? 3,
    out_channels: (raw.out_channels as number) ?? 3,
    block_out_channels: blocks,
    layers_per_block: (raw.layers_per_block as number) ?? 1,
    latent_channels: (raw.latent_channels as number) ?? 4,
    norm_num_groups: groups,
    scaling_factor: scaling as number,
    shift_factor: shift as number,
    use_quant_conv: bool('use_quant_conv'),
    use_post_quant_conv: bool('use_post_quant_conv'),
    mid_block_add_attention: bool('mid_block_add_attention'),
  };
  if (problems.length) throw new ConfigError(`VAE config: ${problems.join('; ')}`);
  return cfg;
}
