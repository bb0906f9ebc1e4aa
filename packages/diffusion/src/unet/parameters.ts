import { ParameterShapes } from '../model/parameter-shapes.ts';
import type { UNetConfig } from './config.ts';

/** Every parameter of a diffusers UNet2DConditionModel with this config: name → shape, in module order. */
export function unetParameterShapes(cfg: UNetConfig): Map<string, number[]> {
  const out = new ParameterShapes();
  const { linear, conv, norm } = out;
  const ted = cfg.time_embedding_dim;
  const resnet = (path: string, inC: number, outC: number) => {
    norm(`${path}.norm1`, inC);
    conv(`${path}.conv1`, outC, inC, 3);
    linear(`${path}.time_emb_proj`, outC, ted);
    norm(`${path}.norm2`, outC);
    conv(`${path}.conv2`, outC, outC, 3);
    if (inC !== outC) conv(`${path}.conv_shortcut`, outC, inC, 1);
  };
  const transformer = (path: string, c: number, layers: number) => {
    norm(`${path}.norm`, c);
    if (cfg.use_linear_projection) linear(`${path}.proj_in`, c, c);
    else conv(`${path}.proj_in`, c, c, 1);
    for (let i = 0; i < layers; i++) {
      const b = `${path}.transformer_blocks.${i}`;
      norm(`${b}.norm1`, c);
      for (const [attn, kv] of [['attn1', c], ['attn2', cfg.cross_attention_dim]] as const) {
        linear(`${b}.${attn}.to_q`, c, c, false);
        linear(`${b}.${attn}.to_k`, c, kv, false);
        linear(`${b}.${attn}.to_v`, c, kv, false);
        linear(`${b}.${attn}.to_out.0`, c, c);
        if (attn === 'attn1') norm(`${b}.norm2`, c);
      }
      norm(`${b}.norm3`, c);
      linear(`${b}.ff.net.0.proj`, 8 * c, c);
      linear(`${b}.ff.net.2`, c, 4 * c);
    }
    if (cfg.use_linear_projection) linear(`${path}.proj_out`, c, c);
    else conv(`${path}.proj_out`, c, c, 1);
  };
  const blocks = cfg.block_out_channels;
  const n = blocks.length;
  conv('conv_in', blocks[0], cfg.in_channels, cfg.conv_in_kernel);
  linear('time_embedding.linear_1', ted, blocks[0]);
  linear('time_embedding.linear_2', ted, ted);
  if (cfg.addition) {
    linear('add_embedding.linear_1', ted, cfg.addition.projection_input_dim);
    linear('add_embedding.linear_2', ted, ted);
  }
  const skips: number[] = [blocks[0]];
  let ch = blocks[0];
  cfg.down_block_types.forEach((type, i) => {
    for (let j = 0; j < cfg.layers_per_block; j++) {
      resnet(`down_blocks.${i}.resnets.${j}`, ch, blocks[i]);
      ch = blocks[i];
      if (type === 'CrossAttnDownBlock2D') transformer(`down_blocks.${i}.attentions.${j}`, ch, cfg.transformer_layers_per_block[i]);
      skips.push(ch);
    }
    if (i < n - 1) {
      conv(`down_blocks.${i}.downsamplers.0.conv`, ch, ch, 3);
      skips.push(ch);
    }
  });
  resnet('mid_block.resnets.0', ch, ch);
  transformer('mid_block.attentions.0', ch, cfg.transformer_layers_per_block[n - 1]);
  resnet('mid_block.resnets.1', ch, ch);
  const reversed = [...blocks].reverse();
  const layers = [...cfg.transformer_layers_per_block].reverse();
  cfg.up_block_types.forEach((type, i) => {
    for (let j = 0; j < cfg.layers_per_block + 1; j++) {
      resnet(`up_blocks.${i}.resnets.${j}`, ch + skips.pop()!, reversed[i]);
      ch = reversed[i];
      if (type === 'CrossAttnUpBlock2D') transformer(`up_blocks.${i}.attentions.${j}`, ch, layers[i]);
    }
    if (i < n - 1) conv(`up_blocks.${i}.upsamplers.0.conv`, ch, ch, 3);
  });
  norm('conv_norm_out', blocks[0]);
  conv('conv_out', cfg.out_channels, blocks[0], cfg.conv_out_kernel);
  return out;
}
