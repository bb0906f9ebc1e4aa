/**
 * `npm run experiment:shapes [-- --quick] [--pairs datasets/shapes-preferences.zip] [--model models/tiny-sd] [--out .data/experiment] [--threads N]`
 * With --pairs the preference pairs come from that archive instead of being sampled anew (same protocol).
 * Prints progress, then the path of report.json as the last line.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runExperiment } from '../src/lab/experiment.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    pairs: { type: 'string' },
    model: { type: 'string', default: 'models/tiny-sd' },
    out: { type: 'string' },
    work: { type: 'string' },
    threads: { type: 'string' },
  },
});
const out = resolve(values.out ?? (values.quick ? '.data/experiment-quick' : '.data/experiment'));
const t0 = Date.now();
const path = await runExperiment({
  modelDir: resolve(values.model!),
  outDir: out,
  workDir: resolve(values.work ?? `${out}/work`),
  quick: values.quick!,
  pairsFrom: values.pairs ? resolve(values.pairs) : undefined,
  threads: values.threads ? Number(values.threads) : undefined,
  log: (line) => console.log(`[${((Date.now() - t0) / 1000).toFixed(0)}s] ${line}`),
});
console.log(path);
