import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readArchivePairs, isDropped, type PairRow } from '../src/data/index.ts';
import { buildTar, colourImage, pairsJsonl, tempDir, type ArchiveEntry } from './fixtures/data/make.ts';

// Archives as tools write them: `tar -C dir .` starts with a `./` entry for the root folder and prefixes every name
// with `./`. That is the root, not a path escaping it.
let dir: string;
let cleanup: () => Promise<void>;
let entries: ArchiveEntry[];
before(async () => {
  ({ dir, cleanup } = await tempDir());
  entries = [
    { name: './', type: 'directory' },
    { name: './pairs.jsonl', data: pairsJsonl([
      { prompt: 'red over blue', chosen: 'images/red.png', rejected: 'images/blue.png' },
      { prompt: 'nul path', chosen: 'images/red\u0000.png', rejected: 'images/blue.png' },
    ]) },
    { name: './images/', type: 'directory' },
    { name: './images/red.png', data: await colourImage('png', 16, 16, [255, 0, 0]) },
    { name: './images/blue.png', data: await colourImage('png', 16, 16, [0, 0, 255]) },
  ];
});
after(() => cleanup());

async function rows(path: string) {
  const out = [];
  for await (const row of readArchivePairs(path, { scratchRoot: dir })) out.push(row);
  return out;
}

for (const [kind, build] of [
  ['tar', (p: string) => buildTar(p, entries)],
  ['tar.gz', (p: string) => buildTar(p, entries, true)],
] as const) {
  test(`${kind} with a ./ root entry is read; an image path with a NUL is a dropped row whose reason holds no NUL`, async () => {
    const path = join(dir, `root.${kind}`);
    await build(path);
    const [kept, dropped] = await rows(path);
    assert.equal(isDropped(kept), false, JSON.stringify(kept));
    assert.equal((kept as PairRow).prompt, 'red over blue');
    assert.ok(isDropped(dropped));
    assert.equal(dropped.reason, 'missing_field');
    assert.ok(!dropped.detail.includes('\u0000'), 'the reason is stored as jsonb, which cannot hold a NUL');
    assert.match(dropped.detail, /images\/red\\u0000\.png/);
  });
}
