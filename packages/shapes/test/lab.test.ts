import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClipTokenizer } from '@npo/diffusion';
import { Rng } from '@npo/graph';
import { PROMPTS, renderShape, reward, sampleScene } from '../src/index.ts';
import { readPairsArchive, writePairsZip } from '../src/lab/preferences.ts';
import { runExperiment } from '../src/lab/experiment.ts';
import { writeModelConfigs, writeTextParts } from '../src/lab/tiny-sd.ts';
import { createTrainingSource } from '../src/train-source.ts';

const TINY_SD = join(import.meta.dirname, '../../../models/tiny-sd');

test('tiny-sd text parts: every prompt word is one token, BOS/EOS framed, padded to 8', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tiny-sd-'));
  try {
    writeTextParts(dir, 0);
    writeModelConfigs(dir);
    const tok = ClipTokenizer.fromFolder(join(dir, 'tokenizer'));
    for (const p of PROMPTS) {
      const enc = tok.encode(p.text);
      assert.equal(tok.tokenize(p.text).length, 3, p.text);
      assert.equal(enc.inputIds.length, 8);
      assert.equal(enc.inputIds[0], tok.bosId);
      assert.equal(enc.inputIds[4], tok.eosId);
    }
    assert.ok(existsSync(join(dir, 'text_encoder/model.safetensors')));
    assert.ok(existsSync(join(dir, 'scheduler/scheduler_config.json')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('training source: fresh scenes with their prompt embedding, deterministic for a seed', () => {
  const E = 8 * 32;
  const table = new Rng(1).fillNormal(new Float32Array(13 * E));
  const src = createTrainingSource({ embeddings: table, embedShape: [8, 32] });
  const a = src.next(5, new Rng(9));
  const b = src.next(5, new Rng(9));
  assert.deepEqual(a.images, b.images);
  assert.equal(a.images.length, 5 * 768);
  assert.ok(a.images.every((v) => v >= -1 && v <= 1));
  for (let i = 0; i < 5; i++) {
    const row = a.embeds.subarray(i * E, (i + 1) * E);
    assert.ok([...Array(12).keys()].some((p) => table.subarray(p * E, (p + 1) * E).every((v, k) => v === row[k])));
  }
  assert.deepEqual(src.uncond, table.subarray(12 * E));
});

test('experiment --quick: trains NPO/DPO/two control LoRAs, evaluates five arms at three scales, writes a well-formed report', { timeout: 900_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'npo-exp-'));
  try {
    const path = await runExperiment({ modelDir: TINY_SD, outDir: out, workDir: join(out, 'work'), quick: true });
    const report = JSON.parse(readFileSync(path, 'utf8'));
    assert.equal(report.arms.length, 15);
    for (const a of report.arms) {
      assert.ok(['A', 'B', 'C', 'D', 'X'].includes(a.arm) && [2.5, 4, 7].includes(a.w));
      assert.equal(a.n, 24);
      assert.ok(Number.isFinite(a.mean) && a.mean <= 0 && a.se >= 0);
    }
    assert.equal(report.differences.length, 12);
    for (const d of report.differences) {
      assert.ok(['B-A', 'D-C', 'X-A', 'C-A'].includes(d.pair));
      assert.ok(d.ci95[0] <= d.mean && d.mean <= d.ci95[1], JSON.stringify(d));
      assert.ok(d.win_rate >= 0 && d.win_rate <= 1);
    }
    assert.deepEqual(report.controls.map((c: { w: number; control: string }) => `${c.w}:${c.control}`), ['2.5:coin', '2.5:coin-mirrored', '4:coin', '4:coin-mirrored', '7:coin', '7:coin-mirrored']);
    for (const w of [2.5, 4, 7]) {
      const [coin, mirrored] = report.controls.filter((c: { w: number }) => c.w === w);
      const xa = report.differences.find((d: { w: number; pair: string }) => d.w === w && d.pair === 'X-A');
      assert.ok(Math.abs(xa.mean - (coin.mean + mirrored.mean) / 2) < 1e-12, 'X is the per-sample mean of the two controls');
    }
    assert.equal(report.criteria.length, 3);
    for (const c of report.criteria) assert.ok(typeof c.pass === 'boolean' && typeof c.criterion === 'string', JSON.stringify(c));
    assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /B-A/);
    assert.ok(existsSync(join(out, 'grid.png')));
    assert.ok(existsSync(join(out, 'preferences.zip')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('pairs archive round trip: written by writePairsZip, read back with the reward ordering intact', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pairs-'));
  try {
    const rng = new Rng(4);
    const pairs = [0, 5, 11].map((p) => {
      const clean = renderShape(sampleScene(rng, p));
      const wrong = renderShape(sampleScene(rng, (p + 1) % 12));
      return { prompt: p, images: [wrong, clean] as [Float32Array, Float32Array], rewards: [reward(wrong, p), reward(clean, p)] as [number, number] };
    });
    const zip = join(dir, 'p.zip');
    await writePairsZip(zip, pairs, 'reward');
    const back = await readPairsArchive(zip);
    assert.deepEqual(back.map((p) => p.prompt), [0, 5, 11]);
    for (const p of back) assert.ok(p.rewards[0] > p.rewards[1], 'the chosen image is the one the reward prefers');
    assert.ok(Math.abs(back[0].rewards[0] - pairs[0].rewards[1]) < 1e-9);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('coin and mirrored-coin archives pick the opposite winner of every pair, about half agreeing with the reward', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pairs-'));
  try {
    const rng = new Rng(5);
    const pairs = Array.from({ length: 40 }, (_, i) => {
      const p = i % 12;
      const a = renderShape(sampleScene(rng, p));
      const b = renderShape(sampleScene(rng, (p + 1) % 12));
      return { prompt: p, images: [a, b] as [Float32Array, Float32Array], rewards: [reward(a, p), reward(b, p)] as [number, number] };
    });
    const read = async (labels: 'coin' | 'coin-mirrored') => {
      const zip = join(dir, `${labels}.zip`);
      await writePairsZip(zip, pairs, labels, 3);
      return readPairsArchive(zip);
    };
    const coin = await read('coin');
    const mirrored = await read('coin-mirrored');
    let agree = 0;
    for (let i = 0; i < pairs.length; i++) {
      assert.deepEqual(coin[i].images[0], mirrored[i].images[1], `pair ${i}: the mirrored winner is the coin's loser`);
      assert.deepEqual(coin[i].images[1], mirrored[i].images[0]);
      if (coin[i].rewards[0] > coin[i].rewards[1]) agree++;
    }
    assert.ok(agree > 8 && agree < 32, `coin labels agree with the reward on ${agree} of 40 pairs`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
