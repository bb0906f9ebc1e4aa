import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostTensor, Rng, type HostTensor } from '@npo/graph';
import {
  adapterFeeds, alphasCumprod, ArtifactDir, buildPreferenceStep, initLora, moduleSpecs, parseUNetConfig, SD15_SCHEDULER, WeightSource, DEFAULT_TARGETS,
  type AttentionMemory, type PreferenceStepSpec,
} from '../src/index.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures/tiny-unet/unet');
const LATENT = [4, 8, 8];
const EMBED = [7, 32];

test('tiny UNet DPO step: every attention query-chunked (chunks of 24 of 64 rows) and checkpointed gives the plain step\'s loss and LoRA gradients; so does checkpointing every block', async () => {
  const work = mkdtempSync(join(tmpdir(), 'npo-attn-'));
  try {
    const config = parseUNetConfig(JSON.parse(readFileSync(join(FIXTURE, 'config.json'), 'utf8')));
    const file = join(FIXTURE, 'diffusion_pytorch_model.safetensors');
    const artifacts = new ArtifactDir(work);
    const weights = artifacts.weights(file, 'unet.safetensors');
    const loraConfig = { rank: 4, alpha: 4, targets: DEFAULT_TARGETS };
    const init = initLora(WeightSource.fromSafetensors(file), loraConfig, 5);
    const rngB = new Rng(9);
    for (const m of init.modules.values()) rngB.fillNormal(m.B.data as Float32Array, 0, 0.05);
    const P = 2;
    const rng = new Rng(11);
    const L = LATENT.reduce((a, b) => a * b);
    const feeds: Record<string, HostTensor> = {
      ...adapterFeeds(init),
      chosen: hostTensor('float32', [P, ...LATENT], rng.fillNormal(new Float32Array(P * L))),
      rejected: hostTensor('float32', [P, ...LATENT], rng.fillNormal(new Float32Array(P * L))),
      noise: hostTensor('float32', [P, ...LATENT], rng.fillNormal(new Float32Array(P * L))),
      timesteps: hostTensor('int64', [P], [120, 640]),
      embeds: hostTensor('float32', [P, ...EMBED], rng.fillNormal(new Float32Array(P * 7 * 32))),
    };
    const run = async (attention: AttentionMemory, name: string, extra: Partial<PreferenceStepSpec> = {}) => {
      const { graph, paramNames } = buildPreferenceStep({
        unet: { config, weights }, lora: { config: loraConfig, modules: moduleSpecs(init) }, pairs: P, latentShape: LATENT, embedShape: EMBED,
        method: 'dpo', beta: 500, alphasCumprod: alphasCumprod(SD15_SCHEDULER), prediction: 'epsilon', maxGradNorm: null,
        adamw: {}, optimizer: false, emitGradients: true, attention, ...extra,
      });
      const { session } = await artifacts.compile(graph, name);
      const res = await session.run(feeds);
      await session.release();
      return { res, paramNames, regions: graph.checkpoints.length };
    };
    const plain = await run({ chunkElements: Infinity, checkpointElements: Infinity }, 'plain');
    // at most 4 samples × 8 heads × 24 rows × 64 keys per chunk: 64-token attention splits into 24 + 24 + 16 rows
    const chunked = await run({ chunkElements: 4 * 8 * 24 * 64, checkpointElements: 0 }, 'chunked');
    assert.equal(plain.regions, 0);
    assert.ok(chunked.regions > 0, 'chunks were built as checkpoint regions');
    assert.ok(Math.abs(Number(plain.res.loss.data[0]) - Number(chunked.res.loss.data[0])) < 1e-6);
    let worst = 0;
    for (const n of plain.paramNames) {
      const a = plain.res[`grad.${n}`].data as Float32Array;
      const b = chunked.res[`grad.${n}`].data as Float32Array;
      const scale = Math.max(...a.map(Math.abs), 1e-12);
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / scale);
    }
    assert.ok(worst < 1e-4, `worst relative gradient difference ${worst}`);

    // activation checkpointing of every resnet and transformer block (regions around the chunked attention)
    const blocks = await run({ chunkElements: 4 * 8 * 24 * 64, checkpointElements: 0 }, 'blocks', { checkpointBlocks: true });
    assert.ok(blocks.regions > chunked.regions, `${blocks.regions} block regions`);
    assert.ok(Math.abs(Number(plain.res.loss.data[0]) - Number(blocks.res.loss.data[0])) < 1e-6);
    let worstBlocks = 0;
    for (const n of plain.paramNames) {
      const a = plain.res[`grad.${n}`].data as Float32Array;
      const b = blocks.res[`grad.${n}`].data as Float32Array;
      const scale = Math.max(...a.map(Math.abs), 1e-12);
      for (let i = 0; i < a.length; i++) worstBlocks = Math.max(worstBlocks, Math.abs(a[i] - b[i]) / scale);
    }
    assert.ok(worstBlocks < 1e-4, `worst relative gradient difference with checkpointed blocks ${worstBlocks}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
