import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveHyperparameters } from '@npo/contracts';
import { loadLora, readModelFolder, type AdapterUse, type LoraAdapter } from '@npo/diffusion';
import { encodeDatasetForModel, trainAdapter, type StepMetrics } from '@npo/trainer';
import { writePngGrid } from '../image.ts';
import { buildReport, meanOfControls, miniatureCriteria, reportMarkdown, type Arm, type Criterion, type GuidanceResults, type Report } from '../report.ts';
import { rewardBatch } from '../reward.ts';
import { IMAGE_LENGTH, PROMPTS } from '../world.ts';
import { readPairsArchive, samplePreferencePairs, writePairsZip, type PreferencePair } from './preferences.ts';
import { ShapesSampler, type Slot } from './sampler.ts';

export interface ExperimentOptions {
  modelDir: string;
  outDir: string;
  workDir: string;
  quick: boolean;
  /** Use the pairs of this archive (e.g. the committed datasets/shapes-preferences.zip) instead of sampling new ones. */
  pairsFrom?: string;
  threads?: number;
  log?: (line: string) => void;
  onTrainStep?: (arm: string, m: StepMetrics) => void;
}

/** MINIATURE.md's protocol (full) or a small version of every stage (quick). */
export function experimentSettings(quick: boolean) {
  return quick
    ? { pairsPerPrompt: 4, loraSteps: 20, batchPairs: 8, seedsPerPrompt: 2, samplingSteps: 10, guidances: [2.5, 4, 7] }
    : { pairsPerPrompt: 100, loraSteps: 400, batchPairs: 16, seedsPerPrompt: 32, samplingSteps: 20, guidances: [2.5, 4, 7] };
}

const DATA_SEED = 1;
const EVAL_SEED = 2024;
const RANK = 8;
/**
 * The control arm is an antithetic pair: a coin-flip labelling and its mirror. One random labelling of these pairs
 * still correlates with the reward by chance, and its adapter moves the negative branch along that chance direction
 * (±0.004 between coin seeds here, see README); the mirror learns the opposite direction, so their mean measures
 * what a random-label adapter does on average. report.controls keeps each one's own difference.
 */
const CONTROLS = ['coin', 'coin-mirrored'] as const;

/**
 * Trains NPO, DPO and control LoRAs with the project's trainer on preferences sampled from tiny-sd, evaluates
 * arms A (plain CFG), B (NPO-CFG), C (DPO both branches), D (DPO + NPO), X (control LoRAs in the negative branch,
 * see CONTROLS) on the same initial noise, and writes report.json, report.md and a grid PNG (A beside B). Returns report.json's path.
 */
export async function runExperiment(o: ExperimentOptions): Promise<string> {
  const s = experimentSettings(o.quick);
  const log = o.log ?? (() => {});
  mkdirSync(o.outDir, { recursive: true });
  const sampler = await ShapesSampler.create(o.modelDir, { workDir: join(o.workDir, 'sampler'), batch: 24, rank: RANK, threads: o.threads });

  let pairs: PreferencePair[];
  if (o.pairsFrom) {
    pairs = await readPairsArchive(o.pairsFrom);
    log(`read ${pairs.length} preference pairs from ${o.pairsFrom}`);
  } else {
    log(`sampling ${PROMPTS.length * s.pairsPerPrompt} preference pairs at w = 4`);
    const sampled = await samplePreferencePairs(sampler, { pairsPerPrompt: s.pairsPerPrompt, guidance: 4, seed: DATA_SEED, minGap: 0.002 });
    pairs = sampled.pairs;
    log(`kept ${pairs.length} pairs, dropped ${sampled.dropped} with |Δr| < 0.002`);
  }
  const rewardZip = join(o.outDir, 'preferences.zip');
  await writePairsZip(rewardZip, pairs, 'reward');
  const controlZips = CONTROLS.map((labels) => ({ labels, zip: join(o.outDir, `preferences-${labels}.zip`) }));
  for (const { labels, zip } of controlZips) await writePairsZip(zip, pairs, labels, DATA_SEED);

  // Each archive is prepared once: NPO and DPO train on the same prepared reward-labelled pairs.
  const prepare = async (name: string, zip: string) =>
    (await encodeDatasetForModel({ modelDir: o.modelDir, datasetFile: zip, resolution: 16, outDir: join(o.workDir, `prepared-${name}`) })).preparedDir;
  const train = async (arm: string, preparedDir: string, method: 'npo' | 'dpo'): Promise<LoraAdapter> => {
    log(`training the ${arm} LoRA (${method}, ${s.loraSteps} steps × ${s.batchPairs} pairs)`);
    let last: StepMetrics | undefined;
    const r = await trainAdapter({
      modelDir: o.modelDir, preparedDir, method, workDir: join(o.workDir, `train-${arm}`), threads: o.threads,
      hyperparameters: resolveHyperparameters(
        { steps: s.loraSteps, batch_pairs: s.batchPairs, learning_rate: 5e-4, beta: 2000, lora_rank: RANK, lora_alpha: RANK, warmup_steps: 0, checkpoint_every: s.loraSteps },
        { method, model: readModelFolder(o.modelDir).info }, // tiny-sd: pixel space, 16×16
      ),
      onStep: (m) => {
        last = m;
        o.onTrainStep?.(arm, m);
      },
    });
    log(`${arm}: final loss ${last?.loss.toFixed(4)}, implicit accuracy ${last?.implicit_acc.toFixed(3)}`);
    return loadLora(r.finalAdapter!);
  };
  const rewardPrepared = await prepare('reward', rewardZip);
  const npo = await train('npo', rewardPrepared, 'npo');
  const dpo = await train('dpo', rewardPrepared, 'dpo');
  const controls: [string, LoraAdapter][] = [];
  for (const { labels, zip } of controlZips) controls.push([labels, await train(`control-${labels}`, await prepare(labels, zip), 'npo')]);

  const use = (adapter: LoraAdapter, positiveScale: number, negativeScale: number): AdapterUse => ({ adapter, positiveScale, negativeScale });
  const arms: Record<Exclude<Arm, 'X'>, Partial<Record<Slot, AdapterUse>>> = {
    A: {},
    B: { npo: use(npo, 0, 1) },
    C: { pos: use(dpo, 1, 1) },
    D: { pos: use(dpo, 1, 1), npo: use(npo, 0, 1) },
  };
  const prompts: number[] = [];
  const indices: number[] = [];
  PROMPTS.forEach((_, p) => {
    for (let k = 0; k < s.seedsPerPrompt; k++) {
      prompts.push(p);
      indices.push(p * 1000 + k);
    }
  });
  const results: GuidanceResults[] = [];
  const grids: Float32Array[][] = [];
  for (const w of s.guidances) {
    const r: GuidanceResults = { w, arms: {}, controls: {} };
    for (const arm of Object.keys(arms) as (keyof typeof arms)[]) {
      log(`evaluating arm ${arm} at w = ${w} on ${prompts.length} samples`);
      const images = await sampler.sample(prompts, indices, EVAL_SEED, w, arms[arm], s.samplingSteps);
      r.arms[arm] = rewardBatch(images, prompts);
      if (w === s.guidances[s.guidances.length - 1] && (arm === 'A' || arm === 'B'))
        grids.push(PROMPTS.map((_, p) => images.slice(p * s.seedsPerPrompt * IMAGE_LENGTH, (p * s.seedsPerPrompt + 1) * IMAGE_LENGTH)));
    }
    for (const [name, adapter] of controls) {
      log(`evaluating control ${name} at w = ${w} on ${prompts.length} samples`);
      r.controls![name] = rewardBatch(await sampler.sample(prompts, indices, EVAL_SEED, w, { npo: use(adapter, 0, 1) }, s.samplingSteps), prompts);
    }
    r.arms.X = meanOfControls(Object.values(r.controls!));
    results.push(r);
  }
  const built = buildReport(results);
  const report: Report & { criteria: Criterion[]; settings: unknown } = { ...built, criteria: miniatureCriteria(built), settings: { ...s, controls: CONTROLS, pairs_from: o.pairsFrom ?? null, rank: RANK, beta: 2000, lr: 5e-4, data_seed: DATA_SEED, eval_seed: EVAL_SEED, pairs: pairs.length } };
  const reportPath = join(o.outDir, 'report.json');
  writeFileSync(reportPath, JSON.stringify(report, null, 2));
  writeFileSync(join(o.outDir, 'report.md'), reportMarkdown(report));
  // Rows: prompts; columns: plain CFG (A) beside NPO-CFG (B), same initial noise, at the largest w.
  await writePngGrid(join(o.outDir, 'grid.png'), PROMPTS.map((_, p) => [grids[0][p], grids[1][p]]), 6);
  return reportPath;
}
