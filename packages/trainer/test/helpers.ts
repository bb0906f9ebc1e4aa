import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArtifactDir, DEFAULT_TARGETS, initLora, saveLora, type LoraAdapter } from '@npo/diffusion';
import { Rng, writeSafetensors } from '@npo/graph';
import { loadModelFolder } from '../src/index.ts';

export const TINY_MODEL = join(import.meta.dirname, '../../diffusion/test/fixtures/tiny-unet');

/** A prepared dataset in the shard format, with seeded random latents and embeddings of the tiny UNet's shapes. */
export function makePrepared(dir: string, pairs: number[], latentShape = [4, 8, 8], embedShape = [7, 32], seed = 3): string {
  mkdirSync(dir, { recursive: true });
  const rng = new Rng(seed);
  const L = latentShape.reduce((a, b) => a * b, 1);
  const E = embedShape.reduce((a, b) => a * b, 1);
  const shards = pairs.map((n, i) => {
    const file = `shard-${String(i).padStart(5, '0')}.safetensors`;
    writeSafetensors(join(dir, file), {
      chosen: { dtype: 'float32', shape: [n, ...latentShape], data: rng.fillNormal(new Float32Array(n * L)) },
      rejected: { dtype: 'float32', shape: [n, ...latentShape], data: rng.fillNormal(new Float32Array(n * L)) },
      embeds: { dtype: 'float32', shape: [n, ...embedShape], data: rng.fillNormal(new Float32Array(n * E)) },
    });
    return { file, pairs: n, sha256: '' };
  });
  writeSafetensors(join(dir, 'uncond.safetensors'), { embeds: { dtype: 'float32', shape: [1, ...embedShape], data: rng.fillNormal(new Float32Array(E)) } });
  const manifest = { version: 1, key: 'test', shards, total_pairs: pairs.reduce((a, b) => a + b, 0), latent_shape: latentShape, embed_shape: embedShape, uncond_file: 'uncond.safetensors' };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return dir;
}

/**
 * A rank-4 LoRA for `modelDir`'s UNet with seeded random B (initLora's zeros would change nothing), saved in `dir`
 * for `method`: an adapter whose effect on samples is large enough to see.
 */
export function strongAdapter(modelDir: string, dir: string, method: 'npo' | 'dpo'): { file: string; adapter: LoraAdapter } {
  const model = loadModelFolder(modelDir);
  const art = new ArtifactDir(join(dir, 'init'));
  const adapter = initLora(art.weights(model.unetWeights, 'unet.safetensors'), { rank: 4, alpha: 4, targets: DEFAULT_TARGETS }, 1);
  let k = 0;
  for (const m of adapter.modules.values()) new Rng(9, k++).fillNormal(m.B.data as Float32Array, 0, 0.5);
  const file = join(dir, 'adapter.safetensors');
  saveLora(file, adapter, { method });
  return { file, adapter };
}
