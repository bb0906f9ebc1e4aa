import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ClipTokenizer } from '../src/text/tokenizer.ts';
import { byteToUnicodeTable } from '../src/text/tokenizer-bpe.ts';

// A prompt is upload data and BPE is quadratic in a word's length: encode must do bounded work per prompt and give
// exactly the reference's ids for every prompt that fits. Timings are reported (t.diagnostic), never asserted.
const FIXTURE = join(import.meta.dirname, 'fixtures', 'tokenizer');
const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as { cases: { prompt: string; input_ids: number[]; truncated: boolean }[] };
const temps: string[] = [];
after(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

let state = 7;
const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const letters = (n: number) => Array.from({ length: n }, () => String.fromCharCode(97 + Math.floor(next() * 26))).join('');
const ms = (fn: () => unknown) => {
  const t0 = performance.now();
  fn();
  return Math.round((performance.now() - t0) * 10) / 10;
};

/** The reference's truncation of the unbounded ids: what encode must return. */
function referenceIds(tok: ClipTokenizer, prompt: string): { ids: number[]; truncated: boolean } {
  const all = tok.untruncatedIds(prompt).slice(1, -1);
  const budget = tok.modelMaxLength - 2;
  const seq = [tok.bosId, ...all.slice(0, budget), tok.eosId];
  return { ids: [...seq, ...new Array(tok.modelMaxLength - seq.length).fill(tok.padId)], truncated: all.length > budget };
}

/** Longest merged symbol in byte-level characters: a word of n characters is at least n / this tokens. */
function maxSymbolChars(dir: string): number {
  const merges = readFileSync(join(dir, 'merges.txt'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#version'));
  return Math.max(1, ...merges.map((l) => [...l.replace(' ', '').replace('</w>', '')].length));
}

/**
 * The worst tokenizer a tenant can upload for BPE: merges that grow one symbol a character at a time along a word
 * (ab, abc, abcd, ...), so each BPE round merges one pair and a word of n characters takes n rounds of n lookups.
 */
function chainTokenizer(word: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'clip-chain-'));
  temps.push(dir);
  const { chars } = byteToUnicodeTable();
  const vocab: Record<string, number> = {};
  for (const c of chars) vocab[c] = Object.keys(vocab).length;
  for (const c of chars) vocab[`${c}</w>`] = Object.keys(vocab).length;
  const merges: string[] = [];
  let symbol = word[0];
  for (let i = 1; i < word.length; i++) {
    const ch = i === word.length - 1 ? `${word[i]}</w>` : word[i];
    merges.push(`${symbol} ${ch}`);
    symbol += ch;
    vocab[symbol] = Object.keys(vocab).length;
  }
  for (const t of ['<|startoftext|>', '<|endoftext|>']) vocab[t] = Object.keys(vocab).length;
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocab));
  writeFileSync(join(dir, 'merges.txt'), `#version: 0.2\n${merges.join('\n')}\n`);
  for (const f of ['tokenizer_config.json', 'special_tokens_map.json']) copyFileSync(join(FIXTURE, f), join(dir, f));
  return dir;
}

describe('work per prompt is bounded by model_max_length', () => {
  const tok = ClipTokenizer.fromFolder(FIXTURE);
  const budgetChars = (tok.modelMaxLength + 1) * maxSymbolChars(FIXTURE);

  test('measured: the worst prompts for the fixture tokenizer (one 2 MB word; 2 MB of words)', (t) => {
    const word = letters(2 * 1024 * 1024);
    const words = Array.from({ length: 350_000 }, () => letters(5)).join(' ');
    for (const n of [4000, 8000, 16000]) t.diagnostic(`unbounded tokenize of one ${n}-letter word: ${ms(() => tok.tokenize(word.slice(0, n)))} ms`);
    let e = tok.encode('');
    t.diagnostic(`encode of one ${word.length}-letter word: ${ms(() => (e = tok.encode(word)))} ms, ${e.tokenizedChars} characters through BPE`);
    assert.ok(e.truncated);
    assert.ok(e.tokenizedChars <= budgetChars, `${e.tokenizedChars} characters went through BPE`);
    t.diagnostic(`encode of ${words.length} characters of 5-letter words: ${ms(() => (e = tok.encode(words)))} ms, ${e.tokenizedChars} characters through BPE`);
    assert.ok(e.truncated);
    assert.ok(e.tokenizedChars <= budgetChars, `${e.tokenizedChars} characters went through BPE`);
  });

  test('measured: a hostile tokenizer whose merges make BPE take one round per character, and its worst word', (t) => {
    const word = letters(3000);
    const dir = chainTokenizer(word);
    const chain = ClipTokenizer.fromFolder(dir);
    t.diagnostic(`unbounded tokenize of the ${word.length}-letter chain word: ${ms(() => chain.tokenize(word))} ms`);
    let e = chain.encode('');
    t.diagnostic(`encode of it: ${ms(() => (e = chain.encode(word)))} ms, ${e.tokenizedChars} characters through BPE`);
    assert.equal(e.tokenizedChars, word.length, 'one token of up to 3000 characters could be the first: the word is not cut');
    const many = Array.from({ length: 200 }, () => word).join(' ');
    t.diagnostic(`encode of 200 such words: ${ms(() => (e = chain.encode(many)))} ms, ${e.tokenizedChars} characters through BPE`);
    assert.ok(e.tokenizedChars <= (chain.modelMaxLength - 1) * word.length, 'words past the limit are not tokenized');
  });

  test('prompts that fit, and over-long prompts of ordinary words, give exactly the reference ids', () => {
    const prompts = [...expected.cases.map((c) => c.prompt)];
    for (let n = 0; n < 200; n++) {
      const words = Array.from({ length: 1 + Math.floor(next() * 120) }, () => letters(1 + Math.floor(next() * 12)));
      prompts.push(words.join(next() < 0.5 ? ' ' : ', '));
    }
    prompts.push(letters(150), `a cat ${letters(60)} on a mat`);
    for (const p of prompts) {
      const e = tok.encode(p);
      const ref = referenceIds(tok, p);
      assert.deepEqual(e.inputIds, ref.ids, JSON.stringify(p).slice(0, 80));
      assert.equal(e.truncated, ref.truncated);
    }
    for (const c of expected.cases) assert.deepEqual(tok.encode(c.prompt).inputIds, c.input_ids);
  });

  test('left truncation keeps the last tokens, bounded the same way', () => {
    const dir = mkdtempSync(join(tmpdir(), 'clip-left-'));
    temps.push(dir);
    for (const f of ['vocab.json', 'merges.txt', 'special_tokens_map.json']) copyFileSync(join(FIXTURE, f), join(dir, f));
    const cfg = JSON.parse(readFileSync(join(FIXTURE, 'tokenizer_config.json'), 'utf8'));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...cfg, truncation_side: 'left' }));
    const left = ClipTokenizer.fromFolder(dir);
    const budget = left.modelMaxLength - 2;
    for (let n = 0; n < 50; n++) {
      const p = Array.from({ length: 1 + Math.floor(next() * 150) }, () => letters(1 + Math.floor(next() * 10))).join(' ');
      const all = left.untruncatedIds(p).slice(1, -1);
      const seq = [left.bosId, ...all.slice(Math.max(0, all.length - budget)), left.eosId];
      assert.deepEqual(left.encode(p).inputIds.slice(0, seq.length), seq);
    }
    const e = left.encode(`${letters(1_000_000)} a red cat`);
    assert.ok(e.truncated && e.tokenizedChars <= budgetChars);
  });
});

test('chunked clean-up gives exactly the whole text\'s words, whatever the chunk size', async () => {
  const { clipWords, preTokenizeClip } = await import('../src/text/tokenizer-text.ts');
  const pieces = ['a', 'Cat', ' ', '  ', '\u00e9', 'e\u0301', '\u4e00', "it's", '\u200b', '\t', '\n', 'x\u0000y', '!!', '9', '\u3000', 'Ä', 'İ'];
  for (let n = 0; n < 300; n++) {
    const text = Array.from({ length: Math.floor(next() * 80) }, () => pieces[Math.floor(next() * pieces.length)]).join('');
    for (const chunk of [1, 3, 16]) assert.deepEqual([...clipWords(text, chunk)], preTokenizeClip(text), JSON.stringify(text));
  }
});
