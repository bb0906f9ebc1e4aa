import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ClipTokenizer, TokenizerError } from '../src/text/tokenizer.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'tokenizer');

interface ExpectedCase {
  prompt: string;
  tokens: string[];
  input_ids: number[];
  attention_mask: number[];
  truncated: boolean;
  input_ids_untruncated: number[];
  fast_tokenizer_agrees: boolean;
}
const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as {
  model_max_length: number;
  bos_token_id: number;
  eos_token_id: number;
  pad_token_id: number;
  cases: ExpectedCase[];
};

const temps: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'clip-tokenizer-'));
  temps.push(dir);
  return dir;
}
after(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

function checkCase(tok: ClipTokenizer, c: ExpectedCase) {
  assert.deepEqual(tok.tokenize(c.prompt), c.tokens);
  const e = tok.encode(c.prompt);
  assert.deepEqual(e.inputIds, c.input_ids);
  assert.deepEqual(e.attentionMask, c.attention_mask);
  assert.equal(e.truncated, c.truncated);
  assert.deepEqual(tok.untruncatedIds(c.prompt), c.input_ids_untruncated);
}

describe('ClipTokenizer on the reference fixture (vocab.json + merges.txt)', () => {
  const tok = ClipTokenizer.fromFolder(FIXTURE);

  test('reads the special ids and length from the folder config', () => {
    assert.equal(tok.modelMaxLength, expected.model_max_length);
    assert.equal(tok.bosId, expected.bos_token_id);
    assert.equal(tok.eosId, expected.eos_token_id);
    assert.equal(tok.padId, expected.pad_token_id);
  });

  test('fixture covers truncation and prompts where the fast tokenizer disagrees', () => {
    assert.ok(expected.cases.length >= 21);
    assert.ok(expected.cases.some((c) => c.truncated));
    assert.ok(expected.cases.some((c) => !c.fast_tokenizer_agrees));
  });

  for (const c of expected.cases) test(`prompt ${JSON.stringify(c.prompt).slice(0, 60)}`, () => checkCase(tok, c));

  test('encodeBatch lays rows out as [n, modelMaxLength] int64', () => {
    const cases = expected.cases;
    const batch = tok.encodeBatch(cases.map((c) => c.prompt));
    const len = tok.modelMaxLength;
    assert.equal(batch.inputIds.length, cases.length * len);
    assert.equal(batch.attentionMask.length, cases.length * len);
    cases.forEach((c, row) => {
      assert.deepEqual([...batch.inputIds.subarray(row * len, (row + 1) * len)].map(Number), c.input_ids);
      assert.deepEqual([...batch.attentionMask.subarray(row * len, (row + 1) * len)].map(Number), c.attention_mask);
    });
    assert.deepEqual(batch.truncated, cases.map((c) => c.truncated));
    assert.equal(tok.encodeBatch([]).inputIds.length, 0);
  });
});

/** The fixture's vocabulary as an HF fast-format tokenizer.json, in a temp folder beside the two configs. */
function tokenizerJsonFolder(mergeStyle: 'strings' | 'pairs'): string {
  const dir = tempDir();
  const vocab = JSON.parse(readFileSync(join(FIXTURE, 'vocab.json'), 'utf8')) as Record<string, number>;
  const lines = readFileSync(join(FIXTURE, 'merges.txt'), 'utf8').trim().split('\n').slice(1);
  const merges = mergeStyle === 'strings' ? lines : lines.map((l) => l.split(' '));
  const special = (content: string) => ({ id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true });
  const json = {
    version: '1.0',
    added_tokens: [special('<|startoftext|>'), special('<|endoftext|>')],
    model: { type: 'BPE', dropout: null, unk_token: '<|endoftext|>', continuing_subword_prefix: '', end_of_word_suffix: '</w>', fuse_unk: false, vocab, merges },
  };
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
  for (const f of ['tokenizer_config.json', 'special_tokens_map.json']) copyFileSync(join(FIXTURE, f), join(dir, f));
  return dir;
}

describe('ClipTokenizer from a tokenizer.json folder', () => {
  for (const style of ['strings', 'pairs'] as const) {
    test(`merges written as ${style}: every fixture prompt matches`, () => {
      const tok = ClipTokenizer.fromFolder(tokenizerJsonFolder(style));
      assert.equal(tok.bosId, expected.bos_token_id);
      assert.equal(tok.padId, expected.pad_token_id);
      for (const c of expected.cases) checkCase(tok, c);
    });
  }

  test('tokenizer.json alone (no configs) falls back to CLIP defaults: 77, pad = eos', () => {
    const dir = tokenizerJsonFolder('pairs');
    rmSync(join(dir, 'tokenizer_config.json'));
    rmSync(join(dir, 'special_tokens_map.json'));
    const tok = ClipTokenizer.fromFolder(dir);
    assert.equal(tok.modelMaxLength, 77);
    assert.equal(tok.padId, tok.eosId);
    checkCase(tok, expected.cases[0]);
  });
});

describe('ClipTokenizer settings from the folder config', () => {
  function fixtureCopy(): string {
    const dir = tempDir();
    for (const f of ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json']) copyFileSync(join(FIXTURE, f), join(dir, f));
    return dir;
  }
  function editConfig(dir: string, file: string, edit: (c: Record<string, unknown>) => void) {
    const c = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    edit(c);
    writeFileSync(join(dir, file), JSON.stringify(c));
  }

  test('pad token and length come from the config (SD2-style pad "!")', () => {
    const dir = fixtureCopy();
    editConfig(dir, 'tokenizer_config.json', (c) => {
      c.model_max_length = 12;
      c.pad_token = '!';
    });
    editConfig(dir, 'special_tokens_map.json', (c) => (c.pad_token = '!'));
    const tok = ClipTokenizer.fromFolder(dir);
    const vocab = JSON.parse(readFileSync(join(dir, 'vocab.json'), 'utf8'));
    assert.equal(tok.padId, vocab['!']);
    assert.notEqual(tok.padId, tok.eosId);
    const c = expected.cases[0];
    const e = tok.encode(c.prompt);
    const n = c.tokens.length + 2;
    assert.deepEqual(e.inputIds, [...c.input_ids.slice(0, n), ...new Array(12 - n).fill(vocab['!'])]);
    assert.deepEqual(e.attentionMask, [...new Array(n).fill(1), ...new Array(12 - n).fill(0)]);
  });

  test('truncation keeps bos, the first modelMaxLength − 2 tokens, eos', () => {
    const dir = fixtureCopy();
    editConfig(dir, 'tokenizer_config.json', (c) => (c.model_max_length = 5));
    const tok = ClipTokenizer.fromFolder(dir);
    const c = expected.cases[0]; // 5 tokens
    const e = tok.encode(c.prompt);
    assert.equal(e.truncated, true);
    assert.deepEqual(e.inputIds, [...c.input_ids_untruncated.slice(0, 4), tok.eosId]);
    assert.deepEqual(e.attentionMask, [1, 1, 1, 1, 1]);
    assert.deepEqual(tok.untruncatedIds(c.prompt), c.input_ids_untruncated);
  });

  test('special_tokens_map.json wins over tokenizer_config.json', () => {
    const dir = fixtureCopy();
    editConfig(dir, 'special_tokens_map.json', (c) => (c.pad_token = '!'));
    const vocab = JSON.parse(readFileSync(join(dir, 'vocab.json'), 'utf8'));
    assert.equal(ClipTokenizer.fromFolder(dir).padId, vocab['!']);
  });
});

describe('ClipTokenizer refuses bad folders with the file to fix', () => {
  function copyWithout(...missing: string[]): string {
    const dir = tempDir();
    for (const f of ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json'])
      if (!missing.includes(f)) copyFileSync(join(FIXTURE, f), join(dir, f));
    return dir;
  }
  function rejects(dir: string, code: string, file: string | undefined, message: RegExp) {
    assert.throws(
      () => ClipTokenizer.fromFolder(dir),
      (e: unknown) => e instanceof TokenizerError && e.code === code && e.file === file && message.test(e.message),
    );
  }

  test('empty folder', () => rejects(tempDir(), 'tokenizer_file_missing', 'vocab.json', /vocab\.json \+ merges\.txt or a tokenizer\.json/));
  test('missing merges.txt', () => rejects(copyWithout('merges.txt'), 'tokenizer_file_missing', 'merges.txt', /merges\.txt is missing/));
  test('missing vocab.json', () => rejects(copyWithout('vocab.json'), 'tokenizer_file_missing', 'vocab.json', /vocab\.json is missing/));
  test('folder that does not exist', () => rejects(join(tempDir(), 'nope'), 'tokenizer_file_missing', 'vocab.json', /nope/));

  test('malformed vocab.json', () => {
    const dir = copyWithout();
    writeFileSync(join(dir, 'vocab.json'), '{"a": 1,');
    rejects(dir, 'tokenizer_file_malformed', 'vocab.json', /vocab\.json is not valid JSON/);
  });
  test('vocab.json with a non-integer id', () => {
    const dir = copyWithout();
    writeFileSync(join(dir, 'vocab.json'), '{"a": "x"}');
    rejects(dir, 'tokenizer_file_malformed', 'vocab.json', /"a" has id "x"/);
  });
  test('malformed merges.txt line', () => {
    const dir = copyWithout();
    writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\nt h\nthree symbols here\n');
    rejects(dir, 'tokenizer_file_malformed', 'merges.txt', /line 3/);
  });
  test('malformed tokenizer_config.json', () => {
    const dir = copyWithout();
    writeFileSync(join(dir, 'tokenizer_config.json'), 'not json');
    rejects(dir, 'tokenizer_file_malformed', 'tokenizer_config.json', /tokenizer_config\.json is not valid JSON/);
  });
  test('malformed special_tokens_map.json', () => {
    const dir = copyWithout();
    writeFileSync(join(dir, 'special_tokens_map.json'), '[1, 2');
    rejects(dir, 'tokenizer_file_malformed', 'special_tokens_map.json', /special_tokens_map\.json is not valid JSON/);
  });
  test('malformed tokenizer.json', () => {
    const dir = copyWithout('vocab.json', 'merges.txt');
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": ');
    rejects(dir, 'tokenizer_file_malformed', 'tokenizer.json', /tokenizer\.json is not valid JSON/);
  });
  test('tokenizer.json without a BPE model', () => {
    const dir = copyWithout('vocab.json', 'merges.txt');
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ model: { type: 'WordPiece', vocab: { a: 0 } } }));
    rejects(dir, 'tokenizer_file_malformed', 'tokenizer.json', /model\.type is "WordPiece"/);
  });
  test('model_max_length that cannot hold bos and eos', () => {
    const dir = copyWithout();
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 1 }));
    rejects(dir, 'tokenizer_config_invalid', 'tokenizer_config.json', /model_max_length is 1/);
  });
  test('pad token absent from the vocabulary', () => {
    const dir = copyWithout();
    writeFileSync(join(dir, 'special_tokens_map.json'), JSON.stringify({ pad_token: '<pad>' }));
    rejects(dir, 'tokenizer_token_missing', undefined, /pad token "<pad>" is not in the vocabulary/);
  });
});
