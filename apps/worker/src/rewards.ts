import { PROMPTS, reward } from '@npo/shapes';
import type { SampleResultRecord } from '@npo/contracts';
import type { RenderedImage } from './trainer-api.ts';

type Reward = (pixels: Float32Array, prompt: string) => number | null;

// Models whose world has a programmatic reward, by model id: the built-in tiny-sd is the shapes world's model
// (packages/shapes/MINIATURE.md), scored by its reward for prompts of that world (other prompts have none).
const REWARDS: Record<string, Reward> = {
  'tiny-sd': (pixels, prompt) => {
    const index = PROMPTS.findIndex((p) => p.text === prompt);
    return index < 0 ? null : reward(pixels, index);
  },
};

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * Each image's reward and the summary of both arms: mean base reward (A), mean adapted reward (B) and the mean
 * paired difference B − A over images that share prompt, seed and guidance (the same initial noise). Null when the
 * model's world has no reward or none of the prompts belongs to it.
 */
export function scoreSamples(modelId: string, prompts: string[], images: RenderedImage[]): { perImage: (number | null)[]; summary: NonNullable<SampleResultRecord['rewards']> } | null {
  const score = REWARDS[modelId];
  if (!score) return null;
  const perImage = images.map((img) => score(img.pixels, prompts[img.prompt]));
  const base = new Map<string, number>();
  const pairKey = (img: RenderedImage) => `${img.prompt}/${img.seed}/${img.guidance}`;
  images.forEach((img, i) => { if (img.arm === 'base' && perImage[i] !== null) base.set(pairKey(img), perImage[i]!); });
  if (!base.size) return null;
  const adapted: number[] = [];
  const differences: number[] = [];
  images.forEach((img, i) => {
    const r = perImage[i];
    if (img.arm !== 'adapted' || r === null) return;
    adapted.push(r);
    const a = base.get(pairKey(img));
    if (a !== undefined) differences.push(r - a);
  });
  return {
    perImage,
    summary: { base: mean([...base.values()]), adapted: adapted.length ? mean(adapted) : null, difference: differences.length ? mean(differences) : null, n: base.size },
  };
}
