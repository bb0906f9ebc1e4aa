/**
 * Builds small CLIP-layout vocabularies for toy models and tests: ids 0–255 are the byte characters, 256–511 the
 * same with `</w>`, then one token per merge in rank order, then bos and eos — CLIP's own layout, so code that
 * works on these works on SD's 49,408-token vocabulary.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bpeWord, byteEncode, byteToUnicodeTable, END_OF_WORD, mergeRanks } from './tokenizer-bpe.ts';
import { TokenizerError } from './tokenizer-errors.ts';
import { CLIP_LITERAL_SPECIALS, preTokenizeClip } from './tokenizer-text.ts';

export interface ClipVocabulary {
  vocab: Record<string, number>;
  /** In rank order. */
  merges: Array<[string, string]>;
}

export interface ClipVocabularyOptions {
  bosToken?: string;
  eosToken?: string;
}

/**
 * A vocabulary in which every word of `texts` (after CLIP's clean-up and pre-tokenization, so "A red circle."
 * contributes "a", "red", "circle", ".") is a single `word</w>` token.
 *
 * Merges are added greedily: tokenize the word with the merges so far and, while it is still several symbols,
 * add a merge of its first two. A new merge has the highest rank yet, so it cannot change how earlier words
 * tokenize (each of their steps still has a lower-ranked merge available until they are one token).
 */
export function buildClipVocabulary(texts: string[], options: ClipVocabularyOptions = {}): ClipVocabulary {
  const { chars } = byteToUnicodeTable();
  const tokens: string[] = [...chars, ...chars.map((c) => c + END_OF_WORD)];
  const known = new Set(tokens);
  const merges: Array<[string, string]> = [];
  const ranks = mergeRanks([]);
  for (const text of texts) {
    for (const word of preTokenizeClip(text)) {
      if (CLIP_LITERAL_SPECIALS.has(word)) continue; // stays whole without merges
      const encoded = byteEncode(word);
      for (let symbols = bpeWord(encoded, ranks); symbols.length > 1; symbols = bpeWord(encoded, ranks)) {
        const [first, second] = symbols;
        ranks.set(`${first} ${second}`, merges.length);
        merges.push([first, second]);
        // Two merges can spell the same string (ab+c, a+bc); the vocabulary holds it once.
        if (!known.has(first + second)) {
          known.add(first + second);
          tokens.push(first + second);
        }
      }
    }
  }
  tokens.push(options.bosToken ?? '<|startoftext|>', options.eosToken ?? '<|endoftext|>');
  return { vocab: Object.fromEntries(tokens.map((t, id) => [t, id])), merges };
}

export interface TokenizerFolderSpec extends ClipVocabularyOptions {
  /** Texts whose words become single tokens (see buildClipVocabulary); or give `vocab` and `merges`. */
  words?: string[];
  vocab?: Record<string, number>;
  merges?: Array<[string, string]>;
  /** 77 unless given. */
  modelMaxLength?: number;
  /** The eos token unless given (SD1.x); SD2.x uses "!". */
  padToken?: string;
}

function addedToken(content: string) {
  return { content, lstrip: false, normalized: true, rstrip: false, single_word: false };
}

/**
 * Writes a loadable `tokenizer/` folder (vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json)
 * in the layout SD1.5 ships; returns the vocabulary written.
 */
export function writeTokenizerFolder(dir: string, spec: TokenizerFolderSpec): ClipVocabulary {
  if (!spec.words === !(spec.vocab && spec.merges))
    throw new TokenizerError('tokenizer_config_invalid', 'writeTokenizerFolder needs either `words` or both `vocab` and `merges`');
  const { vocab, merges } = spec.words ? buildClipVocabulary(spec.words, spec) : { vocab: spec.vocab!, merges: spec.merges! };
  const bos = spec.bosToken ?? '<|startoftext|>';
  const eos = spec.eosToken ?? '<|endoftext|>';
  const pad = spec.padToken ?? eos;
  for (const [role, token] of [['bos', bos], ['eos', eos], ['pad', pad]])
    if (!(token in vocab)) throw new TokenizerError('tokenizer_token_missing', `the ${role} token ${JSON.stringify(token)} is not in the vocabulary`);

  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocab));
  writeFileSync(join(dir, 'merges.txt'), ['#version: 0.2', ...merges.map(([a, b]) => `${a} ${b}`)].join('\n') + '\n');
  const special = { bos_token: addedToken(bos), eos_token: addedToken(eos), pad_token: pad, unk_token: addedToken(eos) };
  writeFileSync(join(dir, 'special_tokens_map.json'), JSON.stringify(special, null, 2));
  const config = {
    add_prefix_space: false,
    do_lower_case: true,
    errors: 'replace',
    model_max_length: spec.modelMaxLength ?? 77,
    tokenizer_class: 'CLIPTokenizer',
    ...special,
  };
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2));
  return { vocab, merges };
}
