import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ArchiveError, extractArchive, readArchivePairs, validateDataset, isDropped, type ArchiveLimits, type PairRow } from '../src/data/index.ts';
import { buildTar, buildZip, colourImage, pairsJsonl, patchBytes, tempDir, type ArchiveEntry } from './fixtures/data/make.ts';

let dir: string;
let cleanup: () => Promise<void>;
let good: ArchiveEntry[];

before(async () => {
  ({ dir, cleanup } = await tempDir());
  const red = await colourImage('png', 16, 16, [255, 0, 0]);
  const blue = await colourImage('jpeg', 16, 16, [0, 0, 255]);
  const green = await colourImage('webp', 16, 16, [0, 255, 0]);
  good = [
    {
      name: 'pairs.jsonl',
      data: pairsJsonl([
        { prompt: 'red over blue', chosen: 'images/red.png', rejected: 'images/blue.jpg' }, // 0 kept
        { prompt: 'lost image', chosen: 'images/red.png', rejected: 'images/nope.png' }, // 1 missing_field
        '{"prompt": "broken json", "chosen": ', // 2 malformed_row
        { chosen: 'images/red.png', rejected: 'images/blue.jpg' }, // 3 missing_field (prompt)
        { prompt: 'green over red', chosen: 'images/green.webp', rejected: 'images/red.png' }, // 4 kept
        { prompt: 'same twice', chosen: 'images/green.webp', rejected: 'images/green.webp' }, // 5 identical_images
        { prompt: 'escape attempt', chosen: '../../etc/passwd', rejected: 'images/red.png' }, // 6 missing_field
        '[1, 2, 3]', // 7 malformed_row
        { prompt: 'corrupt image', chosen: 'images/corrupt.png', rejected: 'images/red.png' }, // 8 undecodable_image
      ]),
    },
    { name: 'images/', type: 'directory' },
    { name: 'images/red.png', data: red },
    { name: 'images/blue.jpg', data: blue },
    { name: 'images/green.webp', data: green },
    { name: 'images/corrupt.png', data: red.subarray(0, 40) },
  ];
});

after(() => cleanup());

const expectedReport = {
  rows_read: 9,
  pairs_kept: 2,
  dropped: { tie: 0, missing_field: 3, malformed_row: 2, empty_image: 0, undecodable_image: 1, image_too_large: 0, identical_images: 1 },
  warnings: { prompt_truncated: 0, prompt_over_long: 0, prompt_over_long_rows: [] },
  samples: [
    [1, 'missing_field'],
    [2, 'malformed_row'],
    [3, 'missing_field'],
    [5, 'identical_images'],
    [6, 'missing_field'],
    [7, 'malformed_row'],
    [8, 'undecodable_image'],
  ],
  valid: true,
};

async function checkGoodArchive(path: string, format: 'zip' | 'tar') {
  const scratchRoot = join(dir, `scratch-${format}-${readdirSync(dir).length}`);
  await mkdir(scratchRoot);
  const report = await validateDataset(path, undefined, { scratchRoot });
  assert.deepEqual({ ...report, samples: report.samples.map((s) => [s.index, s.reason]) }, { format, ...expectedReport });
  assert.deepEqual(readdirSync(scratchRoot), [], 'the scratch extraction is removed afterwards');
  const rows = [];
  for await (const r of readArchivePairs(path, { scratchRoot })) rows.push(r);
  const kept = rows.filter((r): r is PairRow => !isDropped(r));
  // The reader checks structure only; image checks (identical, corrupt) are validation's job.
  assert.deepEqual(kept.map((r) => [r.index, r.prompt]), [[0, 'red over blue'], [4, 'green over red'], [5, 'same twice'], [8, 'corrupt image']]);
  const first = kept[0] as { chosen: Uint8Array };
  assert.equal(Buffer.compare(first.chosen, good.find((e) => e.name === 'images/red.png')!.data as Uint8Array), 0);
}

test('zip: pairs.jsonl with good and bad rows', async () => {
  const path = join(dir, 'good.zip');
  await buildZip(path, good.filter((e) => e.type !== 'directory'));
  await checkGoodArchive(path, 'zip');
});

test('tar and tar.gz: pairs.jsonl with good and bad rows', async () => {
  const plain = join(dir, 'good.tar');
  await buildTar(plain, good);
  await checkGoodArchive(plain, 'tar');
  const gz = join(dir, 'good.tar.gz');
  await buildTar(gz, good, true);
  await checkGoodArchive(gz, 'tar');
});

test('pairs.jsonl inside a single top-level folder is found; none at all is refused', async () => {
  const nested = join(dir, 'nested.zip');
  await buildZip(nested, good.filter((e) => e.type !== 'directory').map((e) => ({ ...e, name: `my-set/${e.name}` })));
  const report = await validateDataset(nested);
  assert.equal(report.pairs_kept, 2);
  const none = join(dir, 'none.zip');
  await buildZip(none, [{ name: 'images/a.png', data: 'x' }]);
  await assert.rejects(validateDataset(none), (e: unknown) => e instanceof ArchiveError && e.code === 'archive_missing_pairs_jsonl');
});

/** Extracts `archive` into a scratch folder and expects `code`; nothing may appear beside or above the scratch folder. */
async function expectRefused(archive: string, code: string, limits: Partial<ArchiveLimits> = {}) {
  const arena = join(dir, `arena-${readdirSync(dir).length}`);
  const scratch = join(arena, 'a', 'scratch');
  await mkdir(join(arena, 'a'), { recursive: true });
  await assert.rejects(extractArchive(archive, scratch, { limits }), (e: unknown) => {
    assert.ok(e instanceof ArchiveError, `expected an ArchiveError, got ${e}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
  assert.deepEqual(readdirSync(join(arena, 'a')), [], 'the scratch folder is removed and nothing is written beside it');
  assert.deepEqual(readdirSync(arena), ['a'], 'nothing is written above the scratch folder');
  assert.ok(!existsSync('/tmp/evil.txt') || (await readFile('/tmp/evil.txt', 'utf8')) !== 'pwned');
}

test('zip: traversal, absolute paths, drive letters, links, counts, sizes and bombs are refused with their codes', async () => {
  const traversal = join(dir, 'traversal.zip');
  await buildZip(traversal, [{ name: 'ok.txt', data: 'fine' }, { name: 'zz/zz/evil.txt', data: 'pwned' }]);
  await patchBytes(traversal, 'zz/zz/evil.txt', '../../evil.txt');
  await expectRefused(traversal, 'archive_path_traversal');

  const backslash = join(dir, 'backslash.zip');
  await buildZip(backslash, [{ name: 'zz/zz/evil.txt', data: 'pwned' }]);
  await patchBytes(backslash, 'zz/zz/evil.txt', '..\\..\\evil.txt');
  await expectRefused(backslash, 'archive_path_traversal');

  const absolute = join(dir, 'absolute.zip');
  await buildZip(absolute, [{ name: 'tmp/evil.txt', data: 'pwned' }]);
  await patchBytes(absolute, 'tmp/evil.txt', '/tm/evil.txt');
  await expectRefused(absolute, 'archive_path_traversal');

  const drive = join(dir, 'drive.zip');
  await buildZip(drive, [{ name: 'CC/evil.txt', data: 'pwned' }]);
  await patchBytes(drive, 'CC/evil.txt', 'C:/evil.txt');
  await expectRefused(drive, 'archive_path_traversal');

  const symlink = join(dir, 'symlink.zip');
  await buildZip(symlink, [{ name: 'pairs.jsonl', data: '' }, { name: 'link', data: '/etc/passwd', mode: 0o120777 }]);
  await expectRefused(symlink, 'archive_link_entry');

  const many = join(dir, 'many.zip');
  await buildZip(many, Array.from({ length: 6 }, (_, i) => ({ name: `f${i}.txt`, data: 'x' })));
  await expectRefused(many, 'archive_too_many_entries', { maxEntries: 5 });

  const big = join(dir, 'big.zip');
  await buildZip(big, [{ name: 'big.bin', data: randomBytes(5000) }]);
  await expectRefused(big, 'archive_entry_too_large', { maxEntryBytes: 4096 });
  await expectRefused(big, 'archive_too_large', { maxArchiveBytes: 1000 });
  const twoMedium = join(dir, 'two.zip');
  await buildZip(twoMedium, [{ name: 'a.bin', data: randomBytes(3000) }, { name: 'b.bin', data: randomBytes(3000) }]);
  await expectRefused(twoMedium, 'archive_too_large', { maxTotalBytes: 5000 });

  // 8 MiB of zeros deflates to ~8 kB: a ~1000× ratio with default limits.
  const bomb = join(dir, 'bomb.zip');
  await buildZip(bomb, [{ name: 'pairs.jsonl', data: '' }, { name: 'zeros.bin', data: new Uint8Array(8 * 1024 * 1024) }]);
  await expectRefused(bomb, 'archive_bomb');
});

test('zip: an entry holding more data than its header declares is refused as a bomb', async () => {
  const liar = join(dir, 'liar.zip');
  const text = Array.from({ length: 4000 }, (_, i) => `line ${i} ${(i * 7919) % 1013}`).join('\n'); // ~50 kB, compresses ~4×
  await buildZip(liar, [{ name: 'notes.txt', data: text }]);
  // Rewrite the central directory's uncompressed size (offset 24 of the 0x02014b50 record) to 1000 bytes.
  const buf = await readFile(liar);
  const central = buf.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  assert.equal(buf.readUInt32LE(central + 24), Buffer.byteLength(text));
  buf.writeUInt32LE(1000, central + 24);
  await writeFile(liar, buf);
  await expectRefused(liar, 'archive_bomb');
});

test('tar: traversal, absolute paths, symlinks, hard links, counts, sizes and gzip bombs are refused with their codes', async () => {
  const cases: [string, ArchiveEntry[], string, Partial<ArchiveLimits>?, boolean?][] = [
    ['traversal', [{ name: 'ok.txt', data: 'fine' }, { name: '../../evil.txt', data: 'pwned' }], 'archive_path_traversal'],
    ['absolute', [{ name: '/tmp/evil.txt', data: 'pwned' }], 'archive_path_traversal'],
    ['symlink', [{ name: 'link', type: 'symlink', linkname: '/etc/passwd' }], 'archive_link_entry'],
    ['hardlink', [{ name: 'a.txt', data: 'x' }, { name: 'hard', type: 'link', linkname: 'a.txt' }], 'archive_link_entry'],
    ['many', Array.from({ length: 6 }, (_, i) => ({ name: `f${i}.txt`, data: 'x' })), 'archive_too_many_entries', { maxEntries: 5 }],
    ['big', [{ name: 'big.bin', data: randomBytes(5000) }], 'archive_entry_too_large', { maxEntryBytes: 4096 }],
    ['total', [{ name: 'a.bin', data: randomBytes(3000) }, { name: 'b.bin', data: randomBytes(3000) }], 'archive_too_large', { maxTotalBytes: 5000 }],
    ['gzbomb', [{ name: 'zeros.bin', data: new Uint8Array(8 * 1024 * 1024) }], 'archive_bomb', {}, true],
  ];
  for (const [label, entries, code, limits, gzip] of cases) {
    const path = join(dir, `${label}.tar${gzip ? '.gz' : ''}`);
    await buildTar(path, entries, gzip);
    await expectRefused(path, code, limits);
  }
});

test('an image many rows refer to is decoded once per validation', async () => {
  const red = await colourImage('png', 16, 16, [255, 0, 0]);
  const blue = await colourImage('png', 16, 16, [0, 0, 255]);
  const rows = Array.from({ length: 60 }, (_, i) => (i % 2 ? { prompt: `p${i}`, chosen: 'images/red.png', rejected: 'images/blue.png' } : { prompt: `p${i}`, chosen: 'images/blue.png', rejected: 'images/red.png' }));
  const path = join(dir, 'shared-images.zip');
  await buildZip(path, [{ name: 'pairs.jsonl', data: pairsJsonl(rows) }, { name: 'images/red.png', data: red }, { name: 'images/blue.png', data: blue }]);
  const decodeCache = new Map();
  const report = await validateDataset(path, undefined, { scratchRoot: dir, decodeCache });
  assert.equal(report.pairs_kept, 60);
  assert.equal(decodeCache.size, 2, 'one decode per distinct image');
});
