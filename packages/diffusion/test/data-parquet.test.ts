import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import sharp from 'sharp';
import {
  DatasetError,
  isDropped,
  parquetInfo,
  pickAPicRow,
  readPickAPicParquet,
  validateDataset,
  type SourceRow,
} from '../src/data/index.ts';
import { colourImage, tempDir, writePickAPicParquet, type PickRow } from './fixtures/data/make.ts';

let dir: string;
let cleanup: () => Promise<void>;
let file: string;
const img: Record<string, Uint8Array> = {};

before(async () => {
  ({ dir, cleanup } = await tempDir());
  img.red = await colourImage('png', 16, 16, [255, 0, 0]);
  img.blue = await colourImage('png', 16, 16, [0, 0, 255]);
  img.greenLevel0 = await colourImage('png', 16, 16, [0, 200, 0], [0, 100, 0], { pngLevel: 0 });
  img.greenLevel9 = await colourImage('png', 16, 16, [0, 200, 0], [0, 100, 0], { pngLevel: 9 });
  img.yellowWebp = await colourImage('webp', 20, 12, [255, 255, 0]);
  img.purpleWebp = await colourImage('webp', 12, 20, [128, 0, 128]);
  img.whiteJpeg = await colourImage('jpeg', 24, 24, [250, 250, 250]);
  img.greyJpeg = await colourImage('jpeg', 24, 24, [90, 90, 90]);
  // 7000×7000 = 49 MP, above the default 40 MP limit; a solid PNG of it is only ~150 kB.
  img.huge = await sharp({ create: { width: 7000, height: 7000, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png({ compressionLevel: 9 }).toBuffer();
  const rows: PickRow[] = [
    { caption: 'a red cat', jpg_0: img.red, jpg_1: img.blue, label_0: 1 }, // 0 kept, jpg_0 wins
    { caption: 'a blue dog', jpg_0: img.red, jpg_1: img.blue, label_0: 0 }, // 1 kept, jpg_1 wins
    { caption: 'a tie', jpg_0: img.red, jpg_1: img.blue, label_0: 0.5 }, // 2 tie
    { caption: null, jpg_0: img.red, jpg_1: img.blue, label_0: 1 }, // 3 missing caption
    { caption: 'broken bytes', jpg_0: img.red, jpg_1: new TextEncoder().encode('not a jpeg at all'), label_0: 1 }, // 4 undecodable
    { caption: 'same file twice', jpg_0: img.blue, jpg_1: img.blue, label_0: 0 }, // 5 identical bytes
    { caption: 'same picture re-encoded', jpg_0: img.greenLevel0, jpg_1: img.greenLevel9, label_0: 1 }, // 6 identical pixels
    { caption: 'a huge image', jpg_0: img.huge, jpg_1: img.red, label_0: 1 }, // 7 too large
    { caption: 'one two three four five six seven', jpg_0: img.yellowWebp, jpg_1: img.purpleWebp, label_0: 1 }, // 8 kept, long prompt
    { caption: 'odd label', jpg_0: img.red, jpg_1: img.blue, label_0: 0.7 }, // 9 malformed
    { caption: 'empty image', jpg_0: new Uint8Array(0), jpg_1: img.blue, label_0: 0 }, // 10 empty
    { caption: 'jpeg pair', jpg_0: img.whiteJpeg, jpg_1: img.greyJpeg, label_0: 0 }, // 11 kept
    { caption: 'no second image', jpg_0: img.red, jpg_1: null, label_0: 1 }, // 12 missing image
  ];
  file = join(dir, 'pickapic.parquet');
  writePickAPicParquet(file, rows, 4);
});

after(() => cleanup());

async function collect(rows: AsyncIterable<SourceRow>): Promise<SourceRow[]> {
  const out: SourceRow[] = [];
  for await (const r of rows) out.push(r);
  return out;
}

test('parquet: rows stream across row groups with the label deciding the winner', async () => {
  const info = await parquetInfo(file);
  assert.equal(info.rows, 13);
  assert.equal(info.rowGroups, 4); // 4 + 4 + 4 + 1: several row groups are really read one by one
  const rows = await collect(readPickAPicParquet(file));
  assert.deepEqual(rows.map((r) => r.index), [...Array(13).keys()]);
  const [r0, r1] = rows;
  assert.ok(!isDropped(r0) && !isDropped(r1));
  assert.equal(r0.prompt, 'a red cat');
  assert.deepEqual([Buffer.compare(r0.chosen, img.red), Buffer.compare(r0.rejected, img.blue)], [0, 0]);
  assert.deepEqual([Buffer.compare(r1.chosen, img.blue), Buffer.compare(r1.rejected, img.red)], [0, 0]);
  assert.deepEqual(
    rows.filter(isDropped).map((r) => [r.index, r.reason]),
    [[2, 'tie'], [3, 'missing_field'], [9, 'malformed_row'], [12, 'missing_field']],
  );
});

test('parquet: validation report is exact', async () => {
  const report = await validateDataset(file, undefined, { countTokens: (p) => p.split(' ').length, maxTokens: 5 });
  assert.deepEqual(
    { ...report, samples: report.samples.map((s) => [s.index, s.reason]) },
    {
      format: 'parquet',
      rows_read: 13,
      pairs_kept: 4,
      dropped: {
        tie: 1,
        missing_field: 2,
        malformed_row: 1,
        empty_image: 1,
        undecodable_image: 1,
        image_too_large: 1,
        identical_images: 2,
      },
      warnings: { prompt_truncated: 1, prompt_over_long: 0, prompt_over_long_rows: [] },
      samples: [
        [2, 'tie'],
        [3, 'missing_field'],
        [4, 'undecodable_image'],
        [5, 'identical_images'],
        [6, 'identical_images'],
        [7, 'image_too_large'],
        [9, 'malformed_row'],
        [10, 'empty_image'],
        [12, 'missing_field'],
      ],
      valid: true,
    },
  );
  const byIndex = new Map(report.samples.map((s) => [s.index, s.detail]));
  assert.match(byIndex.get(3)!, /caption/);
  assert.match(byIndex.get(4)!, /^rejected image/);
  assert.match(byIndex.get(5)!, /same bytes/);
  assert.match(byIndex.get(6)!, /same pixels/);
  assert.match(byIndex.get(7)!, /7000×7000/);
  assert.match(byIndex.get(12)!, /jpg_1/);
});

test('parquet: samples are capped; zero usable pairs is an invalid report, not an exception', async () => {
  const capped = await validateDataset(file, 'parquet', { maxSamples: 3 });
  assert.deepEqual(capped.samples.map((s) => s.index), [2, 3, 4]);
  const bad = join(dir, 'all-bad.parquet');
  writePickAPicParquet(bad, [
    { caption: 'tie', jpg_0: img.red, jpg_1: img.blue, label_0: 0.5 },
    { caption: 'same', jpg_0: img.red, jpg_1: img.red, label_0: 1 },
  ], 10);
  const report = await validateDataset(bad);
  assert.deepEqual([report.rows_read, report.pairs_kept, report.valid], [2, 0, false]);
});

test('parquet: a file without the preference columns, or not parquet at all, is refused with a code', async () => {
  const other = join(dir, 'other.parquet');
  const { parquetWriteFile } = await import('hyparquet-writer');
  parquetWriteFile({ filename: other, columnData: [{ name: 'text', data: ['x'], type: 'STRING' }] });
  await assert.rejects(validateDataset(other), (e: unknown) => e instanceof DatasetError && e.code === 'parquet_missing_column' && /caption/.test(e.message));
  const junk = join(dir, 'junk.bin');
  await writeFile(junk, 'hello world, definitely not a dataset');
  await assert.rejects(validateDataset(junk), (e: unknown) => e instanceof DatasetError && e.code === 'unknown_format');
});

test('pickAPicRow: struct-shaped image cells (Hugging Face Image feature) and bigint labels', () => {
  const row = pickAPicRow(7, { caption: 'x', jpg_0: { bytes: img.red, path: null }, jpg_1: img.blue, label_0: 0n });
  assert.ok(!isDropped(row));
  assert.equal(row.chosen, img.blue);
  assert.equal(row.rejected, img.red);
});
