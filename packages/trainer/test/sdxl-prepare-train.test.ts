import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readManifest, readShard, readUncondPooled, writeTinySdxlFolder } from '@npo/diffusion';
import { resolveHyperparameters } from '@npo/contracts';
import { SafetensorsFile } from '@npo/graph';
import { colourImage, writePickAPicParquet } from '../../diffusion/test/fixtures/data/make.ts';
import { encodeDatasetForModel, trainAdapter } from '../src/index.ts';

const VAE = join(import.meta.dirname, '../../diffusion/test/fixtures/encoders/public/vae');
const WORDS = ['a red circle', 'a blue square', 'two green triangles'];

test('SDXL folder: preparation stores pooled embeddings and each image\'s time ids (its size, the crop made); NPO trains on them and writes a PEFT adapter', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'npo-sdxl-train-'));
  try {
    const model = join(dir, 'model');
    writeTinySdxlFolder(model, { words: WORDS, seed: 11, vaeFrom: VAE });
    // Pairs of differently sized images: each image's time ids follow its own size and centre crop at R = 16.
    const sizes: [number, number][][] = [[[24, 16], [16, 16]], [[16, 40], [32, 20]], [[50, 16], [16, 16]]];
    const rows = await Promise.all(sizes.map(async ([a, b], i) => ({
      caption: WORDS[i],
      jpg_0: await colourImage('png', a[0], a[1], [200, 20, 20], [20, 20, 200]),
      jpg_1: await colourImage('png', b[0], b[1], [20, 200, 20], [200, 200, 20]),
      label_0: 1,
    })));
    const dataset = join(dir, 'pairs.parquet');
    writePickAPicParquet(dataset, rows, 2);
    const prepared = join(dir, 'prepared');
    const r = await encodeDatasetForModel({ modelDir: model, datasetFile: dataset, resolution: 16, outDir: prepared, batchPairs: 2 });
    assert.equal(r.pairs, 3);
    const manifest = readManifest(prepared);
    assert.equal(manifest.pooled_width, 32);
    assert.deepEqual(manifest.embed_shape, [8, 64]);
    assert.deepEqual(manifest.latent_shape, [4, 8, 8]);
    const shards = manifest.shards.map((e) => readShard(prepared, e, manifest));
    const chosen = shards.flatMap((s) => [...s.added!.chosenTimeIds]);
    const rejected = shards.flatMap((s) => [...s.added!.rejectedTimeIds]);
    // label_0 = 1: jpg_0 is chosen. 32×20 → 25×16 (16·32/20 = 25.6 truncates), crop left round(4.5) = 4.
    assert.deepEqual(chosen, [16, 24, 0, 4, 16, 16, 40, 16, 12, 0, 16, 16, 16, 50, 0, 17, 16, 16]);
    assert.deepEqual(rejected, [16, 16, 0, 0, 16, 16, 20, 32, 0, 4, 16, 16, 16, 16, 0, 0, 16, 16]);
    assert.ok(shards.every((s) => s.added!.pooled.some((v) => v !== 0)));
    assert.equal(readUncondPooled(prepared, manifest)!.length, 32);

    const hp = resolveHyperparameters(
      { steps: 2, batch_pairs: 2, resolution: 16, checkpoint_every: 2, learning_rate: 1e-3, warmup_steps: 0, lora_rank: 4, lora_alpha: 4, seed: 3, prompt_dropout: 0.5 },
      { method: 'npo', model: { pixelSpace: false, sampleSize: 2 } },
    );
    const losses: number[] = [];
    const t = await trainAdapter({ modelDir: model, preparedDir: prepared, method: 'npo', hyperparameters: hp, workDir: join(dir, 'work'), threads: 1, onStep: (m) => void losses.push(m.loss) });
    assert.equal(t.steps, 2);
    assert.ok(losses.every((l) => Number.isFinite(l) && l > 0));
    const f = SafetensorsFile.open(t.finalAdapter!);
    // 8 transformer blocks (down 2, mid 2, up 2 × 2) × 2 attentions × to_q/k/v/out.0 × A, B.
    assert.equal(f.tensors.size, 128);
    assert.ok([...f.tensors.keys()].every((k) => /^unet\.(down|mid|up)_block/.test(k) && /\.lora_[AB]\.weight$/.test(k)));
    assert.ok(f.has('unet.up_blocks.0.attentions.1.transformer_blocks.1.attn2.to_k.lora_A.weight'));
    assert.deepEqual(f.entry('unet.up_blocks.0.attentions.1.transformer_blocks.1.attn2.to_k.lora_A.weight').shape, [4, 64], 'attn2.to_k reads the 64-wide SDXL prompt embeddings');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
