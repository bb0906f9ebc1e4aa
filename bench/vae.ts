/**
 * Data-preparation throughput of the image path: PNG bytes → sharp decode + resize → [−1, 1] CHW → VAE encode.
 *   npx tsx bench/vae.ts [--vae DIR] [--images N] [--batch N] [--resolution R] [--source-size S] [--threads N]
 * Defaults to the tiny VAE of the encoder fixtures. PNGs (random pixels, seeded) are generated with sharp first and
 * not timed. Prints one JSON line {workload, images, batch, resolution, threads, images_per_s, decode_ms, encode_ms,
 * total_ms, peak_rss_mb}; progress goes to stderr.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Rng } from '@npo/graph';
import { Vae } from '../packages/diffusion/src/vae/vae.ts';

const DEFAULT_VAE = join(import.meta.dirname, '../packages/diffusion/test/fixtures/encoders/public/vae');

function parseArgs(argv: string[]) {
  const a = { vae: DEFAULT_VAE, images: 256, batch: 8, resolution: 32, sourceSize: 96, threads: 1 };
  const int = (flag: string, v: string | undefined) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer, got '${v ?? ''}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--vae') a.vae = argv[++i];
    else if (flag === '--images') a.images = int(flag, argv[++i]);
    else if (flag === '--batch') a.batch = int(flag, argv[++i]);
    else if (flag === '--resolution') a.resolution = int(flag, argv[++i]);
    else if (flag === '--source-size') a.sourceSize = int(flag, argv[++i]);
    else if (flag === '--threads') a.threads = int(flag, argv[++i]);
    else throw new Error(`unknown argument ${flag}`);
  }
  return a;
}

/** Random RGB noise as PNG bytes: the worst case for the decoder (nothing compresses), and deterministic. */
async function makePngs(n: number, size: number): Promise<Buffer[]> {
  const rng = new Rng(1234);
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const pixels = Buffer.alloc(size * size * 3);
    for (let j = 0; j < pixels.length; j++) pixels[j] = rng.int(256);
    out.push(await sharp(pixels, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer());
  }
  return out;
}

/** sharp decode → resize (cover, centre) to R×R → planar float32 in [−1, 1], written at `offset` of `dest`. */
async function decodeInto(png: Buffer, r: number, dest: Float32Array, offset: number): Promise<void> {
  const rgb = await sharp(png).removeAlpha().resize(r, r, { fit: 'cover', position: 'centre' }).raw().toBuffer();
  const plane = r * r;
  for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) dest[offset + c * plane + p] = rgb[p * 3 + c] / 127.5 - 1;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const work = mkdtempSync(join(tmpdir(), 'npo-bench-vae-'));
  try {
    const pngs = await makePngs(a.images, a.sourceSize);
    const vae = await Vae.create(a.vae, { workDir: work, batch: a.batch, resolution: a.resolution, threads: a.threads });
    const per = 3 * a.resolution ** 2;
    const batchPixels = new Float32Array(a.batch * per);
    await vae.encode(batchPixels); // warm-up: first run allocates and plans
    sharp.concurrency(Math.max(1, Math.min(a.threads, availableParallelism())));
    let decodeMs = 0;
    let encodeMs = 0;
    const t0 = performance.now();
    for (let start = 0; start < a.images; start += a.batch) {
      const items = pngs.slice(start, start + a.batch);
      const td = performance.now();
      await Promise.all(items.map((png, i) => decodeInto(png, a.resolution, batchPixels, i * per)));
      const te = performance.now();
      await vae.encode(batchPixels.subarray(0, items.length * per));
      encodeMs += performance.now() - te;
      decodeMs += te - td;
    }
    const totalMs = performance.now() - t0;
    await vae.release();
    process.stderr.write(`[bench] vae ${a.vae}: ${a.images} images of ${a.sourceSize}² → ${a.resolution}², batch ${a.batch}\n`);
    console.log(JSON.stringify({
      workload: 'vae-encode',
      images: a.images,
      batch: a.batch,
      resolution: a.resolution,
      threads: a.threads,
      images_per_s: Number((a.images / (totalMs / 1000)).toFixed(1)),
      decode_ms: Number(decodeMs.toFixed(1)),
      encode_ms: Number(encodeMs.toFixed(1)),
      total_ms: Number(totalMs.toFixed(1)),
      peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    }));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`bench/vae: ${(e as Error).message}\n`);
  process.exit(1);
});
