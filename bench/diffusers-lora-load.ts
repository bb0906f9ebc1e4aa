// Does diffusers load what the service writes? Trains a seeded tiny SDXL-layout folder for 2 NPO steps with each LoRA
// target preset (rank 4, alpha 16, so a loader that ignored alpha would show scaling 1 instead of 4), then loads each
// adapter into diffusers' UNet2DConditionModel with load_lora_adapter(prefix="unet") (bench/diffusers_lora_load.py, in
// the venv of bench/setup-diffusers-env.sh) and prints one JSON line per adapter, ok when nothing is missing or
// unexpected, every tensor arrived unchanged and every module's scaling is alpha / rank.
//   npx tsx bench/diffusers-lora-load.ts        (NPO_BENCH_PYTHON: the venv's python)
import { mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { resolveHyperparameters, type LoraTargets } from '@npo/contracts';
import { writeTinySdxlFolder } from '@npo/diffusion';
import { colourImage, writePickAPicParquet } from '../packages/diffusion/test/fixtures/data/make.ts';
import { encodeDatasetForModel, trainAdapter } from '../packages/trainer/src/index.ts';

const python = process.env.NPO_BENCH_PYTHON ?? join(homedir(), '.cache/npo-forge/bench-venv/bin/python');
const VAE = join(import.meta.dirname, '../packages/diffusion/test/fixtures/encoders/public/vae');
const WORDS = ['a red circle', 'a blue square', 'two green triangles'];

const dir = mkdtempSync(join(tmpdir(), 'npo-lora-load-'));
let failed = false;
try {
  const model = join(dir, 'model');
  writeTinySdxlFolder(model, { words: WORDS, seed: 11, vaeFrom: VAE });
  const rows = await Promise.all(WORDS.map(async (caption) => ({
    caption, jpg_0: await colourImage('png', 16, 16, [200, 20, 20], [20, 20, 200]), jpg_1: await colourImage('png', 16, 16, [20, 200, 20], [200, 200, 20]), label_0: 1,
  })));
  writePickAPicParquet(join(dir, 'pairs.parquet'), rows, 2);
  const prepared = join(dir, 'prepared');
  await encodeDatasetForModel({ modelDir: model, datasetFile: join(dir, 'pairs.parquet'), resolution: 16, outDir: prepared, batchPairs: 2 });
  for (const lora_targets of ['attn', 'attn+ff', 'all-linear'] as LoraTargets[]) {
    const hp = resolveHyperparameters(
      { steps: 2, batch_pairs: 2, resolution: 16, checkpoint_every: 2, learning_rate: 1e-2, warmup_steps: 0, lora_rank: 4, lora_alpha: 16, lora_targets },
      { method: 'npo', model: { pixelSpace: false, sampleSize: 2 } },
    );
    const t = await trainAdapter({ modelDir: model, preparedDir: prepared, method: 'npo', hyperparameters: hp, workDir: join(dir, `work-${lora_targets}`), threads: 1 });
    const r = spawnSync(python, [join(import.meta.dirname, 'diffusers_lora_load.py'), model, t.finalAdapter!], { encoding: 'utf8' });
    if (r.status !== 0) {
      console.log(JSON.stringify({ model: 'tiny-sdxl', lora_targets, ok: false, error: r.stderr.slice(-2000) }));
      failed = true;
      continue;
    }
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    const ok = out.missing.length === 0 && out.unexpected.length === 0 && out.max_abs_diff === 0 && out.tensors_in_file === out.lora_parameters_loaded
      && out.scalings.length === 1 && out.scalings[0] === out.want_scaling;
    failed ||= !ok;
    console.log(JSON.stringify({ model: 'tiny-sdxl', lora_targets, ok, ...out }));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
