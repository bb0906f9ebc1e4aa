import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import sharp from 'sharp';
import yazl from 'yazl';
import { Rng } from '@npo/graph';
import { openDatasetRows, pairsOnly } from '@npo/diffusion';
import { chwToRgbHwc, rgbHwcToChw } from '../image.ts';
import { reward, rewardBatch } from '../reward.ts';
import { IMAGE_LENGTH, IMAGE_SIZE, promptIndexOfText, PROMPTS } from '../world.ts';
import type { ShapesSampler } from './sampler.ts';

export interface PreferenceSetOptions {
  pairsPerPrompt: number;
  guidance: number;
  seed: number;
  /** Pairs whose rewards differ by less than this are dropped (no clear preference). */
  minGap: number;
  onProgress?: (done: number, total: number) => void;
}

export interface PreferencePair {
  prompt: number;
  /** Two samples [2, 3, 16, 16], and which one the reward prefers. */
  images: [Float32Array, Float32Array];
  rewards: [number, number];
}

/** MINIATURE.md step 2: pairs of samples of the base model at guidance w, ranked by the programmatic reward. */
export async function samplePreferencePairs(sampler: ShapesSampler, o: PreferenceSetOptions): Promise<{ pairs: PreferencePair[]; dropped: number }> {
  const pairs: PreferencePair[] = [];
  let dropped = 0;
  const total = PROMPTS.length * o.pairsPerPrompt;
  for (let p = 0; p < PROMPTS.length; p++) {
    const n = 2 * o.pairsPerPrompt;
    const indices = Array.from({ length: n }, (_, i) => p * 100_000 + i);
    const images = await sampler.sample(Array(n).fill(p), indices, o.seed, o.guidance);
    const rewards = rewardBatch(images, p);
    for (let k = 0; k < o.pairsPerPrompt; k++) {
      const a = images.slice(2 * k * IMAGE_LENGTH, (2 * k + 1) * IMAGE_LENGTH);
      const b = images.slice((2 * k + 1) * IMAGE_LENGTH, (2 * k + 2) * IMAGE_LENGTH);
      const [ra, rb] = [rewards[2 * k], rewards[2 * k + 1]];
      if (Math.abs(ra - rb) < o.minGap) dropped++;
      else pairs.push({ prompt: p, images: [a, b], rewards: [ra, rb] });
    }
    o.onProgress?.((p + 1) * o.pairsPerPrompt, total);
  }
  return { pairs, dropped };
}

export type PairLabels = 'reward' | 'coin' | 'coin-mirrored';

const png = (image: Float32Array) => sharp(Buffer.from(chwToRgbHwc(image)), { raw: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 3 } }).png().toBuffer();

/**
 * Writes pairs as an upload-ready archive: `pairs.jsonl` ({prompt, chosen, rejected}) and the PNGs.
 * `labels`: 'reward' ranks by reward; 'coin' assigns winners by a seeded coin flip (the control arm's data);
 * 'coin-mirrored' takes the same flips and picks the other image of every pair (the antithetic control).
 */
export async function writePairsZip(path: string, pairs: PreferencePair[], labels: PairLabels, seed = 0): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  const zip = new yazl.ZipFile();
  const coin = new Rng(seed, 77);
  const lines: string[] = [];
  for (let i = 0; i < pairs.length; i++) {
    const { prompt, images, rewards } = pairs[i];
    const firstWins = labels === 'reward' ? rewards[0] > rewards[1] : (coin.float() < 0.5) !== (labels === 'coin-mirrored');
    const names = [`images/${String(i).padStart(5, '0')}_a.png`, `images/${String(i).padStart(5, '0')}_b.png`];
    zip.addBuffer(await png(images[0]), names[0]);
    zip.addBuffer(await png(images[1]), names[1]);
    const [chosen, rejected] = firstWins ? names : [names[1], names[0]];
    lines.push(JSON.stringify({ prompt: PROMPTS[prompt].text, chosen, rejected }));
  }
  zip.addBuffer(Buffer.from(lines.join('\n') + '\n'), 'pairs.jsonl');
  zip.end();
  await new Promise<void>((resolve, reject) => {
    zip.outputStream.pipe(createWriteStream(path)).on('close', () => resolve()).on('error', reject);
  });
}

/** Reads a pairs archive written by `writePairsZip` back into pairs (rewards recomputed from the PNGs). */
export async function readPairsArchive(path: string): Promise<PreferencePair[]> {
  const { rows } = await openDatasetRows(path);
  const decode = async (bytes: Uint8Array) => {
    const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    if (info.width !== IMAGE_SIZE || info.height !== IMAGE_SIZE) throw new Error(`${path}: images must be ${IMAGE_SIZE}×${IMAGE_SIZE}`);
    return rgbHwcToChw(new Uint8Array(data));
  };
  const pairs: PreferencePair[] = [];
  for await (const row of pairsOnly(rows)) {
    const prompt = promptIndexOfText(row.prompt);
    const images: [Float32Array, Float32Array] = [await decode(row.chosen), await decode(row.rejected)];
    pairs.push({ prompt, images, rewards: [reward(images[0], prompt), reward(images[1], prompt)] });
  }
  return pairs;
}
