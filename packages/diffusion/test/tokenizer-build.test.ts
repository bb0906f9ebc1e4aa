import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ClipTokenizer, TokenizerError } from '../src/text/tokenizer.ts';
import { buildClipVocabulary, writeTokenizerFolder } from '../src/text/tokenizer-build.ts';
import { byteEncode, byteToUnicodeTable } from '../src/text/tokenizer-bpe.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'tokenizer');
const temps: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'clip-vocab-'));
  temps.push(dir);
  return dir;
}
after(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

const PROMPTS = [
  'a red circle',
  'a blue square on the left',
  'Two green triangles.',
  'three small yellow circles, 2 big ones',
  // pairs that repeat inside a word, and words that are prefixes/suffixes of each other
  'banana abab mississippi bc abc abcd cd',
];

describe('buildClipVocabulary / writeTokenizerFolder', () => {
  const dir = tempDir();
  const { vocab, merges } = writeTokenizerFolder(dir, { words: PROMPTS });
  const tok = ClipTokenizer.fromFolder(dir);
  const words = PROMPTS.flatMap((p) => p.toLowerCase().match(/[a-z]+|[0-9]|[^\sa-z0-9]+/g)!);

  test("CLIP's id layout: bytes, bytes + </w>, merges, bos, eos", () => {
    const { chars } = byteToUnicodeTable();
    const ids = Object.values(vocab).sort((a, b) => a - b);
    assert.deepEqual(ids, ids.map((_, i) => i), 'ids are 0..n-1');
    chars.forEach((c, i) => {
      assert.equal(vocab[c], i);
      assert.equal(vocab[c + '</w>'], 256 + i);
    });
    assert.equal(vocab['a'], 64, "'a' sits where CLIP has it");
    const size = ids.length;
    assert.equal(tok.bosId, size - 2);
    assert.equal(tok.eosId, size - 1);
    assert.equal(tok.padId, tok.eosId);
    assert.equal(tok.modelMaxLength, 77);
    assert.ok(merges.length >= size - 514, 'every merge-made token comes from a merge');
    merges.forEach(([a, b]) => assert.ok(vocab[a + b] >= 512, `merge ${a} ${b} has a token`));
  });

  test('every word tokenizes to one word</w> token', () => {
    for (const w of words) assert.deepEqual(tok.tokenize(w), [byteEncode(w) + '</w>'], w);
  });

  test('prompts encode to bos, one id per word, eos, padding', () => {
    for (const p of PROMPTS) {
      const pw = p.toLowerCase().match(/[a-z]+|[0-9]|[^\sa-z0-9]+/g)!;
      const e = tok.encode(p);
      const real = [tok.bosId, ...pw.map((w) => vocab[w + '</w>']), tok.eosId];
      assert.deepEqual(e.inputIds, [...real, ...new Array(77 - real.length).fill(tok.padId)]);
      assert.equal(e.attentionMask.reduce((s, m) => s + m, 0), real.length);
    }
  });

  test('many random words over a small alphabet all stay single tokens', () => {
    let state = 12345;
    const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const random = Array.from({ length: 300 }, () =>
      Array.from({ length: 1 + Math.floor(next() * 9) }, () => 'abcde'[Math.floor(next() * 5)]).join(''),
    );
    const { vocab: v, merges: m } = buildClipVocabulary(random);
    const d = tempDir();
    writeTokenizerFolder(d, { vocab: v, merges: m });
    const t = ClipTokenizer.fromFolder(d);
    for (const w of random) assert.deepEqual(t.tokenize(w), [w + '</w>'], w);
  });

  test('options: model length, pad token', () => {
    const d = tempDir();
    const { vocab: v } = writeTokenizerFolder(d, { words: ['a red circle'], modelMaxLength: 8, padToken: '!' });
    const t = ClipTokenizer.fromFolder(d);
    assert.equal(t.modelMaxLength, 8);
    assert.equal(t.padId, v['!']);
    assert.deepEqual(t.encode('a red circle').inputIds, [t.bosId, v['a</w>'], v['red</w>'], v['circle</w>'], t.eosId, v['!'], v['!'], v['!']]);
  });

  test('writing a given vocab + merges reproduces the reference fixture', () => {
    const vocab0 = JSON.parse(readFileSync(join(FIXTURE, 'vocab.json'), 'utf8'));
    const merges0 = readFileSync(join(FIXTURE, 'merges.txt'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(' ') as [string, string]);
    const d = tempDir();
    writeTokenizerFolder(d, { vocab: vocab0, merges: merges0 });
    const t = ClipTokenizer.fromFolder(d);
    const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8'));
    for (const c of expected.cases) assert.deepEqual(t.encode(c.prompt).inputIds, c.input_ids, c.prompt);
  });

  test('refuses a spec with neither words nor vocab + merges, or a pad token outside the vocabulary', () => {
    assert.throws(() => writeTokenizerFolder(tempDir(), {}), (e: unknown) => e instanceof TokenizerError && e.code === 'tokenizer_config_invalid');
    assert.throws(
      () => writeTokenizerFolder(tempDir(), { words: ['a'], padToken: '<pad>' }),
      (e: unknown) => e instanceof TokenizerError && e.code === 'tokenizer_token_missing' && /<pad>/.test(e.message),
    );
  });
});
