// Conv gradients (input via ConvTranspose, weight as a convolution, bias) across every attribute variant.
import { test } from 'node:test';
import * as o from '../src/ops.ts';
import { assertGradients } from '../src/testing/gradcheck.ts';

interface Case {
  name: string;
  x: number[];
  w: number[];
  bias?: boolean;
  opts: o.ConvOptions;
}
const cases: Case[] = [
  { name: '1×1', x: [2, 3, 4, 4], w: [5, 3, 1, 1], bias: true, opts: {} },
  { name: '3×3 pad 1', x: [2, 3, 5, 5], w: [4, 3, 3, 3], bias: true, opts: { pads: [1, 1, 1, 1] } },
  { name: '3×3 no bias no pad', x: [1, 2, 5, 6], w: [3, 2, 3, 3], opts: {} },
  { name: 'stride 2 pad 1, odd input (output_padding needed)', x: [2, 2, 7, 7], w: [3, 2, 3, 3], bias: true, opts: { strides: [2, 2], pads: [1, 1, 1, 1] } },
  { name: 'stride 2 pad 1, even input', x: [1, 2, 6, 6], w: [3, 2, 3, 3], opts: { strides: [2, 2], pads: [1, 1, 1, 1] } },
  { name: 'stride 2, 2×2 kernel, odd size (rows dropped)', x: [1, 2, 5, 7], w: [2, 2, 2, 2], opts: { strides: [2, 2] } },
  { name: 'stride (2,3) rectangular', x: [1, 2, 7, 8], w: [2, 2, 3, 2], opts: { strides: [2, 3], pads: [1, 0, 1, 1] } },
  { name: 'dilation 2', x: [1, 2, 7, 7], w: [3, 2, 3, 3], bias: true, opts: { dilations: [2, 2], pads: [2, 2, 2, 2] } },
  { name: 'dilation 2 stride 2', x: [1, 2, 8, 8], w: [2, 2, 3, 3], opts: { dilations: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1] } },
  { name: 'groups 2', x: [2, 4, 5, 5], w: [6, 2, 3, 3], bias: true, opts: { group: 2, pads: [1, 1, 1, 1] } },
  { name: 'depthwise', x: [1, 3, 5, 5], w: [3, 1, 3, 3], bias: true, opts: { group: 3, pads: [1, 1, 1, 1] } },
  { name: 'depthwise with multiplier 2, stride 2', x: [1, 2, 6, 5], w: [4, 1, 3, 3], opts: { group: 2, strides: [2, 2], pads: [1, 1, 1, 1] } },
  { name: 'asymmetric pads', x: [1, 2, 5, 5], w: [3, 2, 3, 3], bias: true, opts: { pads: [0, 1, 2, 0] } },
  { name: 'asymmetric pads stride 2 (SD downsample style)', x: [1, 2, 6, 6], w: [2, 2, 3, 3], opts: { pads: [0, 0, 1, 1], strides: [2, 2] } },
  { name: '1-D conv', x: [2, 3, 9], w: [4, 3, 3], bias: true, opts: { pads: [1, 1], strides: [2] } },
];

for (const c of cases)
  test(`conv ${c.name}`, async () => {
    const inputs = [{ name: 'x', shape: c.x }, { name: 'w', shape: c.w }];
    if (c.bias) inputs.push({ name: 'b', shape: [c.w[0]] });
    await assertGradients({ inputs, build: (g, [x, w, b]) => o.conv(x, w, b ?? null, c.opts), maxElements: 24 });
  });
