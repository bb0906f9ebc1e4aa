import { test } from 'node:test';
import { mul, reduceMean, sub, type Graph, type Value } from '@npo/graph';
import { assertGradients } from '../../graph/src/testing/gradcheck.ts';
import { initUNetWeights, parseUNetConfig, unetForward, WeightSource } from '../src/index.ts';

/** A tiny UNet (every block type, attention, shortcut convs) to check weight gradients of the denoising objective. */
const cfg = parseUNetConfig({
  in_channels: 3, out_channels: 3, block_out_channels: [8, 16], layers_per_block: 1, norm_num_groups: 4,
  down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D'], up_block_types: ['CrossAttnUpBlock2D', 'UpBlock2D'],
  cross_attention_dim: 8, attention_head_dim: 2, sample_size: 8,
});

const CHECKED = [
  'conv_in.weight',
  'time_embedding.linear_1.bias',
  'down_blocks.0.resnets.0.norm1.weight',
  'down_blocks.1.resnets.0.conv_shortcut.weight',
  'down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.weight',
  'down_blocks.1.attentions.0.transformer_blocks.0.norm3.bias',
  'mid_block.attentions.0.proj_in.weight',
  'up_blocks.0.upsamplers.0.conv.bias',
  'conv_out.weight',
];

test('pretrain objective: weight gradients (Conv, Gemm, norms, biases) agree with finite differences', async () => {
  const weights = initUNetWeights(cfg, 3);
  const frozen = WeightSource.fromTensors(weights, 'inline');
  await assertGradients({
    inputs: [
      ...CHECKED.map((name) => ({ name, shape: weights[name].shape, data: weights[name].data as Float32Array })),
      { name: 'x_t', shape: [1, 3, 8, 8], differentiate: false },
      { name: 'eps', shape: [1, 3, 8, 8], differentiate: false },
      { name: 'ctx', shape: [1, 3, 8], differentiate: false },
      { name: 't', shape: [1], data: Float32Array.from([321]), differentiate: false },
    ],
    build: (g: Graph, ins: Value[]) => {
      const chosen = new Map(CHECKED.map((n, i) => [n, ins[i]]));
      // The checked weights come from the checker's inputs, the rest are frozen initializers.
      const source = Object.create(frozen) as WeightSource;
      source.param = (graph: Graph, name: string) => chosen.get(name) ?? frozen.param(graph, name);
      const [xt, eps, ctx, t] = ins.slice(CHECKED.length);
      const pred = unetForward({ g, weights: source, adapters: [] }, cfg, { sample: xt, timesteps: t, encoderHiddenStates: ctx });
      const d = sub(pred, eps);
      return reduceMean(mul(d, d));
    },
    step: 3e-3,
    atol: 2e-4,
    rtol: 2e-2,
    maxElements: 12,
  });
});
