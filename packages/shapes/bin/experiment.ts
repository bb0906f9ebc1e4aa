/**
 * `npm run experiment:shapes [-- --quick] [--model models/tiny-sd] [--out .data/experiment] [--threads N]`
 * Prints progress, then the path of report.json as the last line.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runExperiment } from '../src/lab/experiment.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
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
  threads: values.threads ? Number(values.threads) : undefined,
  log: (line) => console.log(`[${((Date.now() - t0) / 1000).toFixed(0)}s] ${line}`),
});
console.log(path);
