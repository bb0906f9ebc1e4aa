import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ArtifactDir, buildGuidanceGraph, defaultTimeIds, GuidedSampler, moduleSpecs, SdxlTextEncoders, Vae, writeTinySdxlFolder,
  type LoraAdapter,
} from '@npo/diffusion';
import { loadModelFolder, renderSamples, seedNoise } from '../src/index.ts';
import { strongAdapter } from './helpers.ts';

// Sampling an SDXL folder conditions the UNet as StableDiffusionXLPipeline does: both encoders' prompt embeddings,
// the pooled text_embeds of encoder 2, the default time_ids (original = target = the image size, no crop) and, for
// an empty negative prompt, zeros (force_zeros_for_empty_prompt). The reference below drives the guided sampler
// with those inputs built by hand, without the sampling code.
const VAE = join(import.meta.dirname, '../../diffusion/test/fixtures/encoders/public/vae');
const WORDS = ['a red circle', 'a blue square'];
const SEEDS = [0, 3];
const STEPS = 3;
const W = 5;

/** Decoded images [prompt][seed] with the adapter in the negative branch only (negativeScale 1) or absent. */
async function reference(modelDir: string, dir: string, adapter: LoraAdapter | null, negativePrompt = ''): Promise<Float32Array[][]> {
  const model = loadModelFolder(modelDir);
  const text = await SdxlTextEncoders.create(modelDir, { workDir: join(dir, 'ref-text'), batch: WORDS.length });
  const cond = await text.encode(WORDS);
  const neg = negativePrompt ? await text.encode([negativePrompt]) : await text.emptyNegative();
  if (!negativePrompt) assert.ok(neg.promptEmbeds.every((v) => v === 0) && neg.pooled.every((v) => v === 0), 'force_zeros_for_empty_prompt: the empty negative is zeros');
  const embedShape = text.embedShape;
  const pooledWidth = text.pooledWidth;
  await text.release();
  const S = model.unetConfig.sample_size;
  const shape = [model.unetConfig.in_channels, S, S];
  const L = shape[0] * S * S;
  const E = embedShape[0] * embedShape[1];
  const B = SEEDS.length;
  const art = new ArtifactDir(join(dir, 'ref'));
  const slots = adapter ? [{ name: 'x', rank: adapter.config.rank, modules: moduleSpecs(adapter) }] : [];
  const { session } = await art.compile(buildGuidanceGraph({ config: model.unetConfig, weights: art.weights(model.unetWeights, 'unet.safetensors') }, 2 * B, shape, embedShape, slots), `ref_${slots.length}`);
  const vae = await Vae.create(join(modelDir, 'vae'), { workDir: join(dir, 'ref-vae'), batch: B, resolution: 16 });
  const side = vae.resolution;
  const sampler = new GuidedSampler(session, model.scheduler, B, shape, embedShape, slots, { pooled: pooledWidth, timeIds: defaultTimeIds(side) });
  const latents = new Float32Array(B * L);
  SEEDS.forEach((s, i) => latents.set(seedNoise(s, L), i * L));
  const out: Float32Array[][] = [];
  for (let p = 0; p < WORDS.length; p++) {
    const c = new Float32Array(B * E);
    const u = new Float32Array(B * E);
    const cp = new Float32Array(B * pooledWidth);
    const up = new Float32Array(B * pooledWidth);
    for (let i = 0; i < B; i++) {
      c.set(cond.promptEmbeds.subarray(p * E, (p + 1) * E), i * E);
      u.set(neg.promptEmbeds.subarray(0, E), i * E);
      cp.set(cond.pooled.subarray(p * pooledWidth, (p + 1) * pooledWidth), i * pooledWidth);
      up.set(neg.pooled.subarray(0, pooledWidth), i * pooledWidth);
    }
    const uses = adapter ? { x: { adapter, positiveScale: 0, negativeScale: 1 } } : {};
    const { latents: x } = await sampler.sample({ latents, cond: c, uncond: u, condPooled: cp, uncondPooled: up, guidance: W, steps: STEPS }, uses);
    const images = await vae.decode(x);
    const per = 3 * side * side;
    out.push(SEEDS.map((_, i) => images.slice(i * per, (i + 1) * per)));
  }
  await session.release();
  await vae.release();
  return out;
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

test('SDXL sampling: pooled text_embeds, default time_ids, zeros for the empty negative prompt; an NPO adapter in the negative branch; a negative prompt is encoded', { timeout: 300000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'npo-sdxl-sampling-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const modelDir = join(dir, 'model');
  writeTinySdxlFolder(modelDir, { words: [...WORDS, 'blurry'], seed: 5, vaeFrom: VAE });
  const { file, adapter } = strongAdapter(modelDir, dir, 'npo');

  const base = await reference(modelDir, dir, null);
  const npo = await reference(modelDir, dir, adapter);
  assert.ok(maxDiff(base[0][0], npo[0][0]) > 0.01, 'the adapter changes the images (else this test could not fail)');
  const rendered = await renderSamples({
    modelDir, prompts: WORDS, seeds: SEEDS, guidance: [W], steps: STEPS, adapters: { negative: file },
    outDir: join(dir, 'out'), workDir: join(dir, 'work'),
  });
  assert.equal(rendered.side, 16, 'the tiny VAE doubles the 8×8 latents');
  assert.equal(rendered.images.length, WORDS.length * SEEDS.length * 2);
  for (const img of rendered.images) {
    const ref = (img.arm === 'adapted' ? npo : base)[img.prompt][SEEDS.indexOf(img.seed)];
    assert.ok(maxDiff(img.pixels, ref) < 1e-4, `${img.arm} prompt ${img.prompt} seed ${img.seed}: max |Δ| ${maxDiff(img.pixels, ref)}`);
  }

  const negRef = await reference(modelDir, dir, null, 'blurry');
  assert.ok(maxDiff(negRef[0][0], base[0][0]) > 0.01, 'a negative prompt changes the images');
  const withNegative = await renderSamples({
    modelDir, prompts: WORDS, negativePrompt: 'blurry', seeds: SEEDS, guidance: [W], steps: STEPS, outDir: join(dir, 'out-neg'), workDir: join(dir, 'work'),
  });
  assert.equal(withNegative.images.length, WORDS.length * SEEDS.length);
  for (const img of withNegative.images) {
    const d = maxDiff(img.pixels, negRef[img.prompt][SEEDS.indexOf(img.seed)]);
    assert.ok(d < 1e-4, `negative prompt: prompt ${img.prompt} seed ${img.seed}: max |Δ| ${d}`);
  }
});
