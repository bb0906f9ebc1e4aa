import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Graph, type HostTensor } from '@npo/graph';
import { addedConditioningInputs, buildPreferenceStep, ConfigError, DEFAULT_TARGETS, findTargetModules, parseUNetConfig, pooledEmbedWidth, unetForward, unetParameterShapes, WeightSource } from '../src/index.ts';

const config = (name: string) => JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures/configs', name), 'utf8'));

/** Builds the forward graph with every weight a graph input (no bytes needed): proves the config builds. */
function buildShapesOnly(raw: Record<string, unknown>, latent: number, tokens: number) {
  const cfg = parseUNetConfig(raw);
  const shapes = unetParameterShapes(cfg);
  const placeholder: Record<string, HostTensor> = {};
  for (const [n, s] of shapes) placeholder[n] = { dtype: 'float32', shape: s, data: new Float32Array(0) };
  const g = new Graph();
  const added = addedConditioningInputs(g, cfg, 1, '');
  const out = unetForward({ g, weights: WeightSource.fromTensors(placeholder, 'input'), adapters: [] }, cfg, {
    sample: g.input('sample', 'float32', [1, cfg.in_channels, latent, latent]),
    timesteps: g.input('t', 'float32', [1]),
    encoderHiddenStates: g.input('ehs', 'float32', [1, tokens, cfg.cross_attention_dim]),
    added,
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

test('SDXL base config (text_time, per-block layers and heads, linear projections) enumerates exactly its 2,567,463,684 parameters and builds', () => {
  const { cfg, shapes, out, g } = buildShapesOnly(config('sdxl-base-unet.json'), 32, 77);
  const total = [...shapes.values()].reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
  assert.equal(total, 2_567_463_684);
  assert.deepEqual(cfg.addition, { time_embed_dim: 256, projection_input_dim: 2816 });
  assert.equal(pooledEmbedWidth(cfg.addition!), 1280);
  assert.deepEqual(cfg.transformer_layers_per_block, [1, 2, 10]);
  assert.deepEqual(shapes.get('add_embedding.linear_1.weight'), [1280, 2816]);
  assert.ok(shapes.has('mid_block.attentions.0.transformer_blocks.9.attn2.to_k.weight'));
  assert.ok(!shapes.has('mid_block.attentions.0.transformer_blocks.10.attn2.to_k.weight'));
  assert.deepEqual(out.shape, [1, 4, 32, 32]);
  assert.equal(g.inputs.length, shapes.size + 5, 'every enumerated parameter is used by the forward pass (plus 5 data inputs)');
});

test('unsupported and unknown config fields fail with a message naming them', () => {
  const base = config('sd15-unet.json');
  const sdxl = config('sdxl-base-unet.json');
  assert.throws(() => parseUNetConfig({ ...base, addition_embed_type: 'image' }), (e: Error) => e instanceof ConfigError && /addition_embed_type="image"/.test(e.message));
  assert.throws(() => parseUNetConfig({ ...base, addition_embed_type: 'text_time' }), /addition_time_embed_dim=null must be a positive integer/);
  assert.throws(() => parseUNetConfig({ ...sdxl, addition_time_embed_dim: 255 }), /addition_time_embed_dim=255 must be even/);
  assert.throws(() => parseUNetConfig({ ...sdxl, projection_class_embeddings_input_dim: 1536 }), /projection_class_embeddings_input_dim=1536 leaves no room/);
  assert.throws(() => parseUNetConfig({ ...sdxl, addition_embed_type: null }), /addition_time_embed_dim=256 is set but addition_embed_type is not "text_time"/);
  assert.throws(() => parseUNetConfig({ ...sdxl, class_embed_type: 'projection' }), /class_embed_type="projection" is not supported/);
  assert.throws(() => parseUNetConfig({ ...sdxl, time_cond_proj_dim: 256 }), /time_cond_proj_dim=256 is not supported/);
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

test('SDXL base config builds its NPO training-step graph (adapted + reference UNet, loss, gradients, AdamW) with per-sample text_embeds and time_ids', () => {
  const cfg = parseUNetConfig(config('sdxl-base-unet.json'));
  const placeholder: Record<string, HostTensor> = {};
  for (const [n, s] of unetParameterShapes(cfg)) placeholder[n] = { dtype: 'float32', shape: s, data: new Float32Array(0) };
  const weights = WeightSource.fromTensors(placeholder, 'input');
  const modules = findTargetModules(weights, DEFAULT_TARGETS).map((path) => {
    const [out, inF] = weights.shape(`${path}.weight`);
    return { path, in: inF, out };
  });
  assert.equal(modules.length, 70 * 2 * 4, 'to_q/k/v/out.0 of both attentions of all 70 transformer blocks');
  const { graph, paramNames } = buildPreferenceStep({
    unet: { config: cfg, weights }, lora: { config: { rank: 8, alpha: 8, targets: DEFAULT_TARGETS }, modules }, pairs: 1,
    latentShape: [4, 16, 16], embedShape: [77, 2048], method: 'npo', beta: 5000, alphasCumprod: new Float32Array(1000).fill(0.5),
    prediction: 'epsilon', maxGradNorm: 1, adamw: {},
  });
  assert.equal(paramNames.length, 2 * modules.length);
  const inputs = new Map(graph.inputs.map((v) => [v.name, v.shape]));
  assert.deepEqual(inputs.get('text_embeds'), [1, 1280]);
  assert.deepEqual(inputs.get('chosen_time_ids'), [1, 6]);
  assert.deepEqual(inputs.get('rejected_time_ids'), [1, 6]);
  assert.deepEqual(inputs.get('embeds'), [1, 77, 2048]);
  assert.ok(inputs.has('add_embedding.linear_1.weight'));
});
