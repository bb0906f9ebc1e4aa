/**
 * Rebuilds the committed preference set (MINIATURE.md step 2) from models/tiny-sd:
 *   npm run build:shapes-dataset -- [--model models/tiny-sd] [--out datasets/shapes-preferences.zip] [--pairs 100] [--seed 1]
 * Samples pairs per prompt at guidance 4 (20 DDIM steps, x0 clipped), ranks them by the reward, drops |Δr| < 0.002.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { progressBar } from '../src/lab/progress.ts';
import { samplePreferencePairs, writePairsZip } from '../src/lab/preferences.ts';
import { ShapesSampler } from '../src/lab/sampler.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/tiny-sd' },
    out: { type: 'string', default: 'datasets/shapes-preferences.zip' },
    pairs: { type: 'string', default: '100' },
    seed: { type: 'string', default: '1' },
    threads: { type: 'string' },
    work: { type: 'string', default: '.data/build-dataset' },
  },
});
const sampler = await ShapesSampler.create(resolve(values.model!), {
  workDir: resolve(values.work!),
  batch: 25,
  rank: 8,
  threads: values.threads ? Number(values.threads) : undefined,
});
const pairsPerPrompt = Number(values.pairs);
const bar = progressBar('sampling pairs', 12 * pairsPerPrompt);
const { pairs, dropped } = await samplePreferencePairs(sampler, {
  pairsPerPrompt,
  guidance: 4,
  seed: Number(values.seed),
  minGap: 0.002,
  onProgress: (done) => bar.update(done),
});
bar.stop();
const out = resolve(values.out!);
await writePairsZip(out, pairs, 'reward');
const gaps = pairs.map((p) => Math.abs(p.rewards[0] - p.rewards[1])).sort((a, b) => a - b);
console.log(`kept ${pairs.length} pairs, dropped ${dropped}; median |Δr| ${gaps[Math.floor(gaps.length / 2)]?.toFixed(3)}`);
console.log(out);
