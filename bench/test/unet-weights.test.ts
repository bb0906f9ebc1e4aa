import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SafetensorsFile } from '@npo/graph';
import { parseUNetConfig } from '../../packages/diffusion/src/unet/config.ts';
import { unetParameterShapes as unetWeightShapes } from '../../packages/diffusion/src/index.ts';
import { randomUNetWeights } from '../unet-weights.ts';

const fixture = new URL('../../packages/diffusion/test/fixtures/tiny-unet/unet/', import.meta.url).pathname;
const tinyConfig = () => parseUNetConfig(JSON.parse(readFileSync(`${fixture}config.json`, 'utf8')));

test('unetParameterShapes names every tensor of the diffusers tiny UNet with its shape, and nothing else', () => {
  const real = SafetensorsFile.open(`${fixture}diffusion_pytorch_model.safetensors`);
  const derived = unetWeightShapes(tinyConfig());
  const realNames = [...real.tensors.keys()].sort();
  assert.deepEqual([...derived.keys()].sort(), realNames);
  for (const name of realNames) assert.deepEqual(derived.get(name), [...real.entry(name).shape], name);
});

test('unetParameterShapes follows the up path of a 4-level SD1.5-style layout', () => {
  const cfg = parseUNetConfig({
    block_out_channels: [64, 128, 256, 256], cross_attention_dim: 768, norm_num_groups: 32, attention_head_dim: 8,
    down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
    up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  });
  const s = unetWeightShapes(cfg);
  // diffusers: up_blocks.3.resnets.0 takes 128 (previous block) + 64 (skip of down block 0's last layer).
  assert.deepEqual(s.get('up_blocks.3.resnets.0.conv1.weight'), [64, 128 + 64, 3, 3]);
  assert.deepEqual(s.get('up_blocks.3.resnets.2.conv1.weight'), [64, 64 + 64, 3, 3]);
  assert.deepEqual(s.get('up_blocks.0.resnets.2.conv1.weight'), [256, 256 + 256, 3, 3]);
  assert.deepEqual(s.get('up_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight'), [256, 768]);
  assert.equal(s.has('up_blocks.3.upsamplers.0.conv.weight'), false);
  assert.equal(s.has('down_blocks.3.downsamplers.0.conv.weight'), false);
  assert.equal([...s.keys()].filter((k) => k.endsWith('attn1.to_q.weight')).length, 16);
});

test('randomUNetWeights is seeded: same seed, same bytes; norms start at identity', () => {
  const a = randomUNetWeights(tinyConfig(), 7);
  const b = randomUNetWeights(tinyConfig(), 7);
  const c = randomUNetWeights(tinyConfig(), 8);
  const w = 'down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.weight';
  assert.deepEqual(a[w].data, b[w].data);
  assert.notDeepEqual(a[w].data, c[w].data);
  assert.ok((a['conv_norm_out.weight'].data as Float32Array).every((x) => x === 1));
  assert.ok((a['conv_norm_out.bias'].data as Float32Array).every((x) => x === 0));
  const d = a[w].data as Float32Array;
  const std = Math.sqrt(d.reduce((s, x) => s + x * x, 0) / d.length);
  assert.ok(Math.abs(std - 1 / Math.sqrt(64)) < 0.02, `fan-in scaled std ${std}`);
});
