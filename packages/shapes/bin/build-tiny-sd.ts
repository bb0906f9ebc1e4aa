/**
 * Rebuilds models/tiny-sd from nothing but code and a seed:
 *   npm run build:tiny-sd -- [--out models/tiny-sd] [--steps 1100] [--batch 64] [--lr 5e-4] [--seed 0] [--threads 2]
 * Writes the tokenizer, the frozen seeded text encoder, configs, then pretrains the UNet on the shapes world.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pretrainUNet, writeModelConfigs, writeTextParts } from '../src/lab/tiny-sd.ts';
import { progressBar } from '../src/lab/progress.ts';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'models/tiny-sd' },
    steps: { type: 'string', default: '1100' },
    batch: { type: 'string', default: '64' },
    lr: { type: 'string', default: '5e-4' },
    seed: { type: 'string', default: '0' },
    threads: { type: 'string' },
    work: { type: 'string', default: '.data/build-tiny-sd' },
  },
});
const out = resolve(values.out!);
const seed = Number(values.seed);
mkdirSync(out, { recursive: true });
writeTextParts(out, seed);
writeModelConfigs(out);
const steps = Number(values.steps);
const bar = progressBar('pretrain', steps);
await pretrainUNet(out, {
  steps,
  batch: Number(values.batch),
  learningRate: Number(values.lr),
  warmup: 50,
  seed,
  workDir: resolve(values.work!),
  threads: values.threads ? Number(values.threads) : undefined,
  onStep: (m) => bar.update(m.step, `loss ${m.loss.toFixed(4)}`),
});
bar.stop();
console.log(out);
