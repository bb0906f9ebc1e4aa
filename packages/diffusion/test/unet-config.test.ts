import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Graph, type HostTensor } from '@npo/graph';
import { ConfigError, parseUNetConfig, unetForward, unetParameterShapes, WeightSource } from '../src/index.ts';

const config = (name: string) => JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures/configs', name), 'utf8'));

/** Builds the forward graph with every weight a graph input (no bytes needed): proves the config builds. */
function buildShapesOnly(raw: Record<string, unknown>, latent: number, tokens: number) {
  const cfg = parseUNetConfig(raw);
  const shapes = unetParameterShapes(cfg);
  const placeholder: Record<string, HostTensor> = {};
  for (const [n, s] of shapes) placeholder[n] = { dtype: 'float32', shape: s, data: new Float32Array(0) };
  const g = new Graph();
  const out = unetForward({ g, weights: WeightSource.fromTensors(placeholder, 'input'), adapters: [] }, cfg, {
    sample: g.input('sample', 'float32', [1, cfg.in_channels, latent, latent]),
    timesteps: g.input('t', 'float32', [1]),
    encoderHiddenStates: g.input('ehs', 'float32', [1, tokens, cfg.cross_attention_dim]),
  });
  return { cfg, shapes, g, out };
}

test('SD1.5 config builds, and enumerates exactly the 859,520,964 parameters of SD1.5 UNet', () => {
  const { shapes, out, g } = buildShapesOnly(config('sd15-unet.json'), 64, 77);
  const total = [...shapes.values()].reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
  assert.equal(total, 859_520_964);
  assert.deepEqual(out.shape, [1, 4, 64, 64]);
  assert.equal(g.inputs.length, shapes.size + 3, 'every enumerated parameter is used by the forward pass');
});

test('SD2.1 config (per-block head counts, linear projections, 1024-d context) builds', () => {
  const { cfg, out, g, shapes } = buildShapesOnly(config('sd21-unet.json'), 32, 77);
  assert.deepEqual(cfg.heads, [5, 10, 20, 20]);
  assert.equal(cfg.use_linear_projection, true);
  assert.deepEqual(out.shape, [1, 4, 32, 32]);
  assert.deepEqual(shapes.get('down_blocks.0.attentions.0.proj_in.weight'), [320, 320]);
  assert.equal(g.inputs.length, shapes.size + 3);
});

test('unsupported and unknown config fields fail with a message naming them', () => {
  const base = config('sd15-unet.json');
  assert.throws(() => parseUNetConfig({ ...base, addition_embed_type: 'text_time' }), (e: Error) => e instanceof ConfigError && /addition_embed_type="text_time"/.test(e.message));
  assert.throws(() => parseUNetConfig({ ...base, some_new_field: 1 }), /unknown field some_new_field/);
  assert.throws(() => parseUNetConfig({ ...base, down_block_types: ['SimpleDownBlock2D', 'DownBlock2D', 'DownBlock2D', 'DownBlock2D'] }), /SimpleDownBlock2D/);
  assert.throws(() => parseUNetConfig({ ...base, block_out_channels: [320, 640] }), /2 block_out_channels but 4 down/);
  assert.throws(() => parseUNetConfig({ ...base, norm_num_groups: 7 }), /not divisible by norm_num_groups=7/);
});

test('a weight whose shape disagrees with the config is refused, naming it', () => {
  const cfg = parseUNetConfig(config('sd15-unet.json'));
  const shapes = unetParameterShapes(cfg);
  const placeholder: Record<string, HostTensor> = {};
  for (const [n, s] of shapes) placeholder[n] = { dtype: 'float32', shape: n === 'conv_in.weight' ? [320, 9, 3, 3] : s, data: new Float32Array(0) };
  const g = new Graph();
  assert.throws(
    () => WeightSource.fromTensors(placeholder, 'input').param(g, 'conv_in.weight', [320, 4, 3, 3]),
    /conv_in\.weight' has shape \[320,9,3,3\], the config implies \[320,4,3,3\]/,
  );
});
