/**
 * Clean-up and special-token rules beyond the fixture's prompts. Expectations follow transformers' slow
 * CLIPTokenizer source (BasicTokenizer._clean_text / _tokenize_chinese_chars / whitespace_tokenize, the added-token
 * trie split, the BPE cache seeded with the two CLIP specials).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ClipTokenizer } from '../src/text/tokenizer.ts';
import { cleanClipText, preTokenizeClip } from '../src/text/tokenizer-text.ts';

describe('cleanClipText', () => {
  test('drops control and format characters, joining their neighbours', () => {
    assert.equal(cleanClipText('a\u0000b\ufffdc\u0007d\u200be\ufefff\u00adg'), 'abcdefg');
  });
  test('tabs, newlines and Zs spaces separate; runs collapse; ends are trimmed', () => {
    assert.equal(cleanClipText(' \tA\u00a0B\u3000C\r\n\u2003D  '), 'a b c d');
  });
  test('line and paragraph separators split words like Python str.split()', () => {
    assert.equal(cleanClipText('a\u2028b\u2029c'), 'a b c');
  });
  test('CJK ideographs become words of their own; kana does not', () => {
    assert.equal(cleanClipText('東京タワー'), '東 京 タワー');
  });
  test('NFC composes decomposed accents, then lower-cases (final sigma included)', () => {
    assert.equal(cleanClipText('Cafe\u0301 ΟΔΟΣ'), 'café οδος');
    assert.equal(cleanClipText('Cafe\u0301 ΟΔΟΣ').at(-1), 'ς');
  });
  test('a lone surrogate is removed rather than mangled', () => {
    assert.equal(cleanClipText('a\ud800b'), 'ab');
  });
});

describe('preTokenizeClip', () => {
  test("contractions, letter runs, single digits, punctuation runs", () => {
    assert.deepEqual(preTokenizeClip("It's 42 cats!!"), ['it', "'s", '4', '2', 'cats', '!!']);
  });
});

describe('special tokens in the prompt text', () => {
  const tok = ClipTokenizer.fromFolder(join(import.meta.dirname, 'fixtures', 'tokenizer'));
  test('split off before clean-up, so punctuation next to them stays separate', () => {
    assert.deepEqual(tok.tokenize('!<|endoftext|>!'), ['!</w>', '<|endoftext|>', '!</w>']);
  });
  test('upper-case spelling is lower-cased and still comes out as the special token', () => {
    const ids = tok.untruncatedIds('a <|ENDOFTEXT|>');
    assert.deepEqual(ids.slice(-2), [tok.eosId, tok.eosId]);
    assert.deepEqual(tok.tokenize('<|ENDOFTEXT|>'), ['<|endoftext|>']);
  });
});
