/**
 * Cross-check against a maintained implementation: `@huggingface/tokenizers` (a port of the Rust "fast"
 * tokenizer) loaded with the tokenizer.json transformers writes for CLIP. It cannot be the tokenizer itself — its
 * normalizer keeps characters the reference slow tokenizer drops — but wherever the clean-up agrees, its BPE and
 * ours must give the same ids, and where the fixture says the fast tokenizer differs, it must differ the same way.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Tokenizer } from '@huggingface/tokenizers';
import { ClipTokenizer } from '../src/text/tokenizer.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'tokenizer');
const read = (f: string) => readFileSync(join(FIXTURE, f), 'utf8');

/** The fast CLIPTokenizer's tokenizer.json (as `CLIPTokenizerFast` converts it) over the fixture's files. */
function fastClipTokenizer(): Tokenizer {
  const vocab = JSON.parse(read('vocab.json')) as Record<string, number>;
  const merges = read('merges.txt').trim().split('\n').slice(1);
  const added = (content: string) => ({ id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true });
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [added('<|startoftext|>'), added('<|endoftext|>')],
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: { Regex: "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+" },
          behavior: 'Removed',
          invert: true,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: ['<|endoftext|>', vocab['<|endoftext|>']],
      cls: ['<|startoftext|>', vocab['<|startoftext|>']],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: '<|endoftext|>', continuing_subword_prefix: '', end_of_word_suffix: '</w>', fuse_unk: false, byte_fallback: false, vocab, merges },
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return new Tokenizer(json as any, JSON.parse(read('tokenizer_config.json')));
}

describe('ClipTokenizer vs @huggingface/tokenizers', () => {
  const fast = fastClipTokenizer();
  const ours = ClipTokenizer.fromFolder(FIXTURE);
  const expected = JSON.parse(read('expected.json')).cases as Array<{
    prompt: string;
    input_ids_untruncated: number[];
    fast_tokenizer_agrees: boolean;
    fast_tokenizer_input_ids?: number[];
  }>;

  test('same ids where the fixture says fast and slow agree; the fixture-recorded fast ids where they do not', () => {
    for (const c of expected) {
      const fastIds = fast.encode(c.prompt).ids;
      if (c.fast_tokenizer_agrees) {
        assert.deepEqual(fastIds, c.input_ids_untruncated, c.prompt);
        assert.deepEqual(ours.untruncatedIds(c.prompt), fastIds, c.prompt);
      } else {
        assert.deepEqual(fastIds, c.fast_tokenizer_input_ids!.slice(0, fastIds.length), c.prompt);
        assert.notDeepEqual(ours.untruncatedIds(c.prompt), fastIds, c.prompt);
      }
    }
  });

  test('same ids on 300 random ASCII prompts (where both clean-ups agree)', () => {
    let state = 2024;
    const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789 ,.!?'-()  the ";
    for (let n = 0; n < 300; n++) {
      const prompt = Array.from({ length: 1 + Math.floor(next() * 60) }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
      assert.deepEqual(ours.untruncatedIds(prompt), fast.encode(prompt).ids, JSON.stringify(prompt));
    }
  });
});
