import { ParameterShapes } from '../model/parameter-shapes.ts';
import type { VaeConfig } from './config.ts';

/**
 * Every parameter of a diffusers AutoencoderKL with this config, under its current names (legacy-names.ts maps the
 * old ones): name → shape, in module order — encoder, quant_conv, post_quant_conv, decoder. What autoencoder.ts reads.
 */
export function vaeParameterShapes(cfg: VaeConfig): Map<string, number[]> {
  const out = new ParameterShapes();
  const { linear, conv, norm } = out;
  const resnet = (path: string, inC: number, outC: number) => {
    norm(`${path}.norm1`, inC);
    conv(`${path}.conv1`, outC, inC, 3);
    norm(`${path}.norm2`, outC);
    conv(`${path}.conv2`, outC, outC, 3);
    if (inC !== outC) conv(`${path}.conv_shortcut`, outC, inC, 1);
  };
  const midBlock = (path: string, c: number) => {
    resnet(`${path}.resnets.0`, c, c);
    if (cfg.mid_block_add_attention) {
      const a = `${path}.attentions.0`;
      norm(`${a}.group_norm`, c);
      for (const p of ['to_q', 'to_k', 'to_v', 'to_out.0']) {
        linear(`${a}.${p}`, c, c);
      }
    }
    resnet(`${path}.resnets.1`, c, c);
  };
  const blocks = cfg.block_out_channels;
  const n = blocks.length;
  const last = blocks[n - 1];
  const L = cfg.latent_channels;

  conv('encoder.conv_in', blocks[0], cfg.in_channels, 3);
  let ch = blocks[0];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < cfg.layers_per_block; j++) {
      resnet(`encoder.down_blocks.${i}.resnets.${j}`, ch, blocks[i]);
      ch = blocks[i];
    }
    if (i < n - 1) conv(`encoder.down_blocks.${i}.downsamplers.0.conv`, ch, ch, 3);
  }
  midBlock('encoder.mid_block', last);
  norm('encoder.conv_norm_out', last);
  // double_z: mean and log-variance
  conv('encoder.conv_out', 2 * L, last, 3);
  if (cfg.use_quant_conv) conv('quant_conv', 2 * L, 2 * L, 1);
  if (cfg.use_post_quant_conv) conv('post_quant_conv', L, L, 1);

  conv('decoder.conv_in', last, L, 3);
  midBlock('decoder.mid_block', last);
  const reversed = [...blocks].reverse();
  ch = last;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < cfg.layers_per_block + 1; j++) {
      resnet(`decoder.up_blocks.${i}.resnets.${j}`, ch, reversed[i]);
      ch = reversed[i];
    }
    if (i < n - 1) conv(`decoder.up_blocks.${i}.upsamplers.0.conv`, ch, ch, 3);
  }
  norm('decoder.conv_norm_out', blocks[0]);
  conv('decoder.conv_out', cfg.out_channels, blocks[0], 3);
  return out;
}
