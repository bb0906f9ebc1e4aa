import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { hostTensor, Rng, writeSafetensors, type HostTensor } from '@npo/graph';
import type { UNetConfig } from '../packages/diffusion/src/unet/config.ts';

/**
 * Every tensor of a diffusers UNet2DConditionModel (name → shape), derived from its config the way diffusers'
 * constructor lays the modules out. The benchmark uses it to make seeded random weights for model shapes we
 * have no checkpoint of; a test checks it against the tiny fixture's real safetensors.
 */
export function unetWeightShapes(cfg: UNetConfig): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const linear = (path: string, inF: number, outF: number, bias = true) => {
    out.set(`${path}.weight`, [outF, inF]);
    if (bias) out.set(`${path}.bias`, [outF]);
  };
  const conv = (path: string, inC: number, outC: number, k: number) => {
    out.set(`${path}.weight`, [outC, inC, k, k]);
    out.set(`${path}.bias`, [outC]);
  };
  const norm = (path: string, c: number) => {
    out.set(`${path}.weight`, [c]);
    out.set(`${path}.bias`, [c]);
  };
  const temb = cfg.time_embedding_dim;
  const resnet = (path: string, inC: number, outC: number) => {
    norm(`${path}.norm1`, inC);
    conv(`${path}.conv1`, inC, outC, 3);
    linear(`${path}.time_emb_proj`, temb, outC);
    norm(`${path}.norm2`, outC);
    conv(`${path}.conv2`, outC, outC, 3);
    if (inC !== outC) conv(`${path}.conv_shortcut`, inC, outC, 1);
  };
  const attention = (path: string, c: number, kvDim: number) => {
    linear(`${path}.to_q`, c, c, false);
    linear(`${path}.to_k`, kvDim, c, false);
    linear(`${path}.to_v`, kvDim, c, false);
    linear(`${path}.to_out.0`, c, c);
  };
  const transformer = (path: string, c: number, layers: number) => {
    norm(`${path}.norm`, c);
    if (cfg.use_linear_projection) linear(`${path}.proj_in`, c, c);
    else conv(`${path}.proj_in`, c, c, 1);
    for (let l = 0; l < layers; l++) {
      const b = `${path}.transformer_blocks.${l}`;
      norm(`${b}.norm1`, c);
      attention(`${b}.attn1`, c, c);
      norm(`${b}.norm2`, c);
      attention(`${b}.attn2`, c, cfg.cross_attention_dim);
      norm(`${b}.norm3`, c);
      linear(`${b}.ff.net.0.proj`, c, 8 * c);
      linear(`${b}.ff.net.2`, 4 * c, c);
    }
    if (cfg.use_linear_projection) linear(`${path}.proj_out`, c, c);
    else conv(`${path}.proj_out`, c, c, 1);
  };

  const ch = cfg.block_out_channels;
  const n = ch.length;
  conv('conv_in', cfg.in_channels, ch[0], cfg.conv_in_kernel);
  linear('time_embedding.linear_1', ch[0], temb);
  linear('time_embedding.linear_2', temb, temb);
  cfg.down_block_types.forEach((type, i) => {
    const inC = i === 0 ? ch[0] : ch[i - 1];
    for (let j = 0; j < cfg.layers_per_block; j++) {
      resnet(`down_blocks.${i}.resnets.${j}`, j === 0 ? inC : ch[i], ch[i]);
      if (type === 'CrossAttnDownBlock2D') transformer(`down_blocks.${i}.attentions.${j}`, ch[i], cfg.transformer_layers_per_block[i]);
    }
    if (i < n - 1) conv(`down_blocks.${i}.downsamplers.0.conv`, ch[i], ch[i], 3);
  });
  resnet('mid_block.resnets.0', ch[n - 1], ch[n - 1]);
  transformer('mid_block.attentions.0', ch[n - 1], cfg.transformer_layers_per_block[n - 1]);
  resnet('mid_block.resnets.1', ch[n - 1], ch[n - 1]);
  const rev = [...ch].reverse();
  const revLayers = [...cfg.transformer_layers_per_block].reverse();
  cfg.up_block_types.forEach((type, i) => {
    const prevOut = i === 0 ? rev[0] : rev[i - 1];
    const outC = rev[i];
    const inC = rev[Math.min(i + 1, n - 1)];
    for (let j = 0; j <= cfg.layers_per_block; j++) {
      const skip = j === cfg.layers_per_block ? inC : outC;
      const resIn = j === 0 ? prevOut : outC;
      resnet(`up_blocks.${i}.resnets.${j}`, resIn + skip, outC);
      if (type === 'CrossAttnUpBlock2D') transformer(`up_blocks.${i}.attentions.${j}`, outC, revLayers[i]);
    }
    if (i < n - 1) conv(`up_blocks.${i}.upsamplers.0.conv`, outC, outC, 3);
  });
  norm('conv_norm_out', ch[0]);
  conv('conv_out', ch[0], cfg.out_channels, cfg.conv_out_kernel);
  return out;
}

/**
 * Seeded random weights for `cfg`: matrices and kernels fan-in scaled (N(0, 1/fan_in), so activations keep
 * their scale through ~100 layers), norms at weight 1 / bias 0, other biases N(0, 0.02²).
 */
export function randomUNetWeights(cfg: UNetConfig, seed: number): Record<string, HostTensor> {
  const tensors: Record<string, HostTensor> = {};
  let stream = 0;
  for (const [name, shape] of unetWeightShapes(cfg)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    const isNorm = /norm[^.]*\.(weight|bias)$/.test(name);
    if (isNorm) data.fill(name.endsWith('.weight') ? 1 : 0);
    else {
      const fanIn = shape.length > 1 ? size / shape[0] : 0;
      new Rng(seed, stream).fillNormal(data, 0, fanIn ? 1 / Math.sqrt(fanIn) : 0.02);
    }
    stream++;
    tensors[name] = hostTensor('float32', shape, data);
  }
  return tensors;
}

/** Writes the random weights once to `path` (a cache: reused when present). */
export function ensureRandomUNetWeights(path: string, cfg: UNetConfig, seed: number): string {
  if (existsSync(path)) return path;
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeSafetensors(tmp, randomUNetWeights(cfg, seed), { format: 'pt', generator: 'npo-forge bench', seed: String(seed) });
  renameSync(tmp, path);
  return path;
}
