/**
 * Dataset ingestion, measured:   npx tsx bench/ingest.ts
 *   1. decode + resize throughput (images/s) over a generated set of JPEGs;
 *   2. peak RSS while validating (read + decode every image of) a generated Pick-a-Pic parquet file and one ten
 *      times larger, each in its own child process: streaming row groups should keep the two close.
 * Prints one JSON line per number; progress goes to stderr. Runs in well under a minute.
 */
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { parquetWriteFile } from 'hyparquet-writer';
import { decodeBatch, validateDataset } from '../packages/diffusion/src/data/index.ts';

const RESOLUTION = 256;
const IMAGE_SIDE = 384;
const ROW_GROUP = 100;
const SMALL_ROWS = 200;

/** Noisy gradients: they compress like photos (a solid colour would make decoding look unrealistically fast). */
async function noisyJpeg(seed: number): Promise<Uint8Array> {
  const raw = Buffer.alloc(IMAGE_SIDE * IMAGE_SIDE * 3);
  let s = seed * 2654435761;
  for (let i = 0; i < raw.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    raw[i] = ((i / 3) % IMAGE_SIDE) * 0.5 + (s >>> 25) + (seed * 37) % 64;
  }
  return new Uint8Array(await sharp(raw, { raw: { width: IMAGE_SIDE, height: IMAGE_SIDE, channels: 3 } }).jpeg({ quality: 85 }).toBuffer());
}

function writeParquet(path: string, rows: number, pool: Uint8Array[]): void {
  parquetWriteFile({
    filename: path,
    codec: 'UNCOMPRESSED',
    rowGroupSize: ROW_GROUP,
    columnData: [
      { name: 'caption', data: Array.from({ length: rows }, (_, i) => `a generated prompt number ${i}`), type: 'STRING' },
      { name: 'jpg_0', data: Array.from({ length: rows }, (_, i) => pool[i % pool.length]), type: 'BYTE_ARRAY' },
      { name: 'jpg_1', data: Array.from({ length: rows }, (_, i) => pool[(i + 1) % pool.length]), type: 'BYTE_ARRAY' },
      { name: 'label_0', data: Array.from({ length: rows }, (_, i) => (i % 2 ? 1 : 0)), type: 'DOUBLE' },
    ],
  });
}

async function child(path: string): Promise<void> {
  const t0 = performance.now();
  const report = await validateDataset(path, 'parquet', { concurrency: 4 });
  console.log(JSON.stringify({ rows: report.rows_read, kept: report.pairs_kept, seconds: (performance.now() - t0) / 1000, max_rss_kb: process.resourceUsage().maxRSS }));
}

function measure(path: string): { rows: number; seconds: number; peak_rss_mb: number } {
  const res = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', path], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`child failed: ${res.stderr}`);
  const out = JSON.parse(res.stdout.trim().split('\n').at(-1)!);
  return { rows: out.rows, seconds: +out.seconds.toFixed(2), peak_rss_mb: +(out.max_rss_kb / 1024).toFixed(1) };
}

async function main() {
  if (process.argv[2] === '--child') return child(process.argv[3]);
  const dir = await mkdtemp(join(tmpdir(), 'npo-ingest-bench-'));
  try {
    process.stderr.write('[ingest] generating images\n');
    const pool = await Promise.all(Array.from({ length: 32 }, (_, i) => noisyJpeg(i + 1)));

    const images = Array.from({ length: 256 }, (_, i) => pool[i % pool.length]);
    await decodeBatch(images.slice(0, 16), { resolution: RESOLUTION }); // warm-up
    const t0 = performance.now();
    const decoded = await decodeBatch(images, { resolution: RESOLUTION });
    const seconds = (performance.now() - t0) / 1000;
    if (decoded.some((d) => !d.ok)) throw new Error('a generated image failed to decode');
    console.log(JSON.stringify({
      bench: 'ingest.decode_resize', images: images.length, source: `${IMAGE_SIDE}x${IMAGE_SIDE} jpeg`, resolution: RESOLUTION,
      seconds: +seconds.toFixed(3), images_per_s: +(images.length / seconds).toFixed(1),
    }));

    const results: Record<string, ReturnType<typeof measure> & { file_mb: number }> = {};
    for (const [name, rows] of [['small', SMALL_ROWS], ['large', SMALL_ROWS * 10]] as const) {
      const path = join(dir, `${name}.parquet`);
      writeParquet(path, rows, pool);
      const file_mb = +(statSync(path).size / 1024 ** 2).toFixed(1);
      process.stderr.write(`[ingest] validating ${name}: ${rows} rows, ${file_mb} MB\n`);
      results[name] = { ...measure(path), file_mb };
      console.log(JSON.stringify({ bench: 'ingest.parquet_peak_rss', file: name, row_group_rows: ROW_GROUP, ...results[name] }));
    }
    console.log(JSON.stringify({
      bench: 'ingest.parquet_rss_ratio', file_size_ratio: +(results.large.file_mb / results.small.file_mb).toFixed(2),
      rss_ratio: +(results.large.peak_rss_mb / results.small.peak_rss_mb).toFixed(3),
    }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
