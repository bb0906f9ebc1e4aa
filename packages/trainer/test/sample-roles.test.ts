import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ArtifactDir, buildGuidanceGraph, GuidedSampler, moduleSpecs, TextEncoder, type LoraAdapter,
} from '@npo/diffusion';
import { Rng } from '@npo/graph';
import { loadModelFolder, renderSampleGrid } from '../src/index.ts';
import { strongAdapter } from './helpers.ts';

// The preview grid of a job puts the adapter where its method says: DPO's in both guidance branches, NPO's in the
// negative branch only. The reference below drives the guided sampler with explicit per-branch scales.
const TINY_SD = new URL('../../../models/tiny-sd', import.meta.url).pathname;
const PROMPTS = ['a red circle', 'a blue square'];
const SEEDS = [0, 5];
const STEPS = 4;
const W = 5;

/** Images [prompt][seed] with the adapter at these branch scales, computed without the grid code. */
async function reference(dir: string, adapter: LoraAdapter, positiveScale: number, negativeScale: number): Promise<Float32Array[][]> {
  const model = loadModelFolder(TINY_SD);
  const text = await TextEncoder.create(TINY_SD, { workDir: join(dir, 'text'), batch: PROMPTS.length });
  const cond = (await text.encode(PROMPTS)).lastHiddenState;
  const uncond = (await text.unconditional()).lastHiddenState;
  const S = model.unetConfig.sample_size;
  const shape = [3, S, S];
  const L = 3 * S * S;
  const embedShape = [text.sequenceLength, uncond.length / text.sequenceLength];
  const E = uncond.length;
  const art = new ArtifactDir(join(dir, 'ref'));
  const slots = [{ name: 'x', rank: adapter.config.rank, modules: moduleSpecs(adapter) }];
  const B = SEEDS.length;
  const { session } = await art.compile(buildGuidanceGraph({ config: model.unetConfig, weights: art.weights(model.unetWeights, 'unet.safetensors') }, 2 * B, shape, embedShape, slots), 'ref');
  const sampler = new GuidedSampler(session, model.scheduler, B, shape, embedShape, slots);
  const latents = new Float32Array(B * L);
  SEEDS.forEach((s, i) => latents.set(new Rng(s, 0).fillNormal(new Float32Array(L)), i * L));
  const out: Float32Array[][] = [];
  for (let p = 0; p < PROMPTS.length; p++) {
    const c = new Float32Array(B * E);
    const u = new Float32Array(B * E);
    for (let i = 0; i < B; i++) { c.set(cond.subarray(p * E, (p + 1) * E), i * E); u.set(uncond, i * E); }
    const { latents: x } = await sampler.sample({ latents, cond: c, uncond: u, guidance: W, steps: STEPS }, { x: { adapter, positiveScale, negativeScale } });
    out.push(SEEDS.map((_, i) => x.slice(i * L, (i + 1) * L)));
  }
  await session.release();
  await text.release();
  return out;
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

test('preview grid: a DPO adapter runs in both guidance branches, an NPO adapter in the negative one only', { timeout: 120000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'npo-roles-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { file, adapter } = strongAdapter(TINY_SD, dir, 'dpo');
  const both = await reference(dir, adapter, 1, 1);
  const negativeOnly = await reference(dir, adapter, 0, 1);
  const none = await reference(dir, adapter, 0, 0);
  assert.ok(maxDiff(both[0][0], negativeOnly[0][0]) > 0.05, 'the two roles give different images (else this test could not fail)');
  for (const [method, expected] of [['dpo', both], ['npo', negativeOnly]] as const) {
    const grid = await renderSampleGrid({ modelDir: TINY_SD, adapterPath: file, method, prompts: PROMPTS, seeds: SEEDS, steps: STEPS, guidance: W, outDir: join(dir, method) });
    for (const img of grid.images) {
      const ref = (img.arm === 'adapted' ? expected : none)[img.prompt][SEEDS.indexOf(img.seed)];
      assert.ok(maxDiff(img.pixels, ref) < 1e-4, `${method} ${img.arm} prompt ${img.prompt} seed ${img.seed}: max |Δ| ${maxDiff(img.pixels, ref)}`);
    }
    assert.equal(grid.images.length, PROMPTS.length * SEEDS.length * 2);
  }
});
