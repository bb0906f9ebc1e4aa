/**
 * CLIP's BPE tokenizer, matching transformers' slow `CLIPTokenizer` (the reference) on the fixture prompts:
 * split off special/added tokens, clean and lower-case (tokenizer-text.ts), cut into words with CLIP's pattern,
 * byte-encode, BPE with `</w>` (tokenizer-bpe.ts), then bos + ids + eos truncated and padded to model_max_length
 * with the folder's pad token — what `tokenizer(p, padding="max_length", truncation=True)` returns in SD pipelines.
 */
import { bpeWord, byteEncode, mergeRanks, type MergeRanks } from './tokenizer-bpe.ts';
import { TokenizerError } from './tokenizer-errors.ts';
import { readTokenizerFolder, type AddedToken, type TokenizerFiles } from './tokenizer-files.ts';
import { CLIP_LITERAL_SPECIALS, preTokenizeClip } from './tokenizer-text.ts';

export { TokenizerError, type TokenizerErrorCode } from './tokenizer-errors.ts';

export interface ClipEncoding {
  /** bos + ids + eos, truncated to modelMaxLength and padded with padId. */
  inputIds: number[];
  /** 1 over bos..eos, 0 over padding. */
  attentionMask: number[];
  /** Whether some tokens did not fit. */
  truncated: boolean;
  /** bos + every id + eos, not padded. */
  untruncatedIds: number[];
}

export interface ClipBatchEncoding {
  /** [n, modelMaxLength], row-major. */
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  truncated: boolean[];
}

/** Bound on the per-word BPE cache, so a long-running worker tokenizing many datasets does not grow forever. */
const BPE_CACHE_LIMIT = 100_000;

export class ClipTokenizer {
  readonly modelMaxLength: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly unkId: number;
  private readonly vocab: Map<string, number>;
  private readonly addedIds: Map<string, number>;
  /** No-split tokens by content, longest first, so the leftmost-longest one wins at each position. */
  private readonly addedTokens: AddedToken[];
  private readonly ranks: MergeRanks;
  private readonly paddingSide: 'right' | 'left';
  private readonly truncationSide: 'right' | 'left';
  private readonly cache = new Map<string, string[]>();

  private constructor(files: TokenizerFiles) {
    this.vocab = files.vocab;
    this.addedIds = files.addedIds;
    const byContent = new Map<string, AddedToken>();
    for (const t of files.addedTokens) if (t.content !== '') byContent.set(t.content, t);
    this.addedTokens = [...byContent.values()].sort((a, b) => b.content.length - a.content.length);
    this.ranks = mergeRanks(files.merges);
    this.modelMaxLength = files.modelMaxLength;
    this.paddingSide = files.paddingSide;
    this.truncationSide = files.truncationSide;
    const idOf = (role: string, token: string): number => {
      const id = this.addedIds.get(token) ?? this.vocab.get(token);
      if (id === undefined)
        throw new TokenizerError('tokenizer_token_missing', `the ${role} token ${JSON.stringify(token)} is not in the vocabulary; fix the vocabulary or the ${role}_token setting`);
      return id;
    };
    this.bosId = idOf('bos', files.bosToken);
    this.eosId = idOf('eos', files.eosToken);
    this.padId = idOf('pad', files.padToken);
    this.unkId = idOf('unk', files.unkToken);
  }

  /** Loads a model's `tokenizer/` folder (vocab.json + merges.txt, or tokenizer.json, plus optional configs). */
  static fromFolder(dir: string): ClipTokenizer {
    return new ClipTokenizer(readTokenizerFolder(dir));
  }

  /** BPE tokens of `text`, without bos/eos; literal special tokens in the text come out whole. */
  tokenize(text: string): string[] {
    const out: string[] = [];
    for (const piece of this.splitAddedTokens(text)) {
      if (piece.added) {
        out.push(piece.text);
        continue;
      }
      for (const word of preTokenizeClip(piece.text)) out.push(...this.bpe(word));
    }
    return out;
  }

  encode(text: string): ClipEncoding {
    const ids = this.tokenize(text).map((t) => this.addedIds.get(t) ?? this.vocab.get(t) ?? this.unkId);
    const budget = this.modelMaxLength - 2;
    const truncated = ids.length > budget;
    const kept = !truncated ? ids : this.truncationSide === 'right' ? ids.slice(0, budget) : ids.slice(ids.length - budget);
    const sequence = [this.bosId, ...kept, this.eosId];
    const padding = new Array<number>(this.modelMaxLength - sequence.length).fill(this.padId);
    const ones = new Array<number>(sequence.length).fill(1);
    const zeros = new Array<number>(padding.length).fill(0);
    const right = this.paddingSide === 'right';
    return {
      inputIds: right ? [...sequence, ...padding] : [...padding, ...sequence],
      attentionMask: right ? [...ones, ...zeros] : [...zeros, ...ones],
      truncated,
      untruncatedIds: [this.bosId, ...ids, this.eosId],
    };
  }

  encodeBatch(texts: string[]): ClipBatchEncoding {
    const n = texts.length;
    const len = this.modelMaxLength;
    const inputIds = new BigInt64Array(n * len);
    const attentionMask = new BigInt64Array(n * len);
    const truncated: boolean[] = [];
    texts.forEach((text, row) => {
      const e = this.encode(text);
      for (let j = 0; j < len; j++) {
        inputIds[row * len + j] = BigInt(e.inputIds[j]);
        attentionMask[row * len + j] = BigInt(e.attentionMask[j]);
      }
      truncated.push(e.truncated);
    });
    return { inputIds, attentionMask, truncated };
  }

  private bpe(word: string): string[] {
    if (CLIP_LITERAL_SPECIALS.has(word)) return [word];
    const encoded = byteEncode(word);
    let tokens = this.cache.get(encoded);
    if (!tokens) {
      tokens = bpeWord(encoded, this.ranks);
      if (this.cache.size >= BPE_CACHE_LIMIT) this.cache.clear();
      this.cache.set(encoded, tokens);
    }
    return tokens;
  }

  /**
   * transformers' `tokens_trie.split` + AddedToken handling: cut the raw text at every occurrence of an added
   * token (leftmost, then longest), honour lstrip/rstrip (strip the neighbouring text) and single_word (an
   * occurrence glued to a word is not a token: it goes back into the neighbouring text).
   */
  private splitAddedTokens(text: string): Array<{ text: string; added: boolean }> {
    const pieces: Array<{ text: string; added: boolean; token?: AddedToken }> = [];
    let plainStart = 0;
    for (let i = 0; i < text.length; ) {
      const token = this.addedTokens.find((t) => text.startsWith(t.content, i));
      if (!token) {
        i++;
        continue;
      }
      if (i > plainStart) pieces.push({ text: text.slice(plainStart, i), added: false });
      pieces.push({ text: token.content, added: true, token });
      i += token.content.length;
      plainStart = i;
    }
    if (plainStart < text.length) pieces.push({ text: text.slice(plainStart), added: false });

    for (let i = 0; i < pieces.length; i++) {
      const token = pieces[i].token;
      if (!token) continue;
      const left = pieces[i - 1];
      const right = pieces[i + 1];
      if (token.rstrip && right && !right.added) right.text = right.text.trimStart();
      if (token.lstrip && left && !left.added) left.text = left.text.trimEnd();
      if (token.singleWord && left && left.text !== '' && !left.text.endsWith(' ')) {
        left.text += pieces[i].text;
        left.added = false;
        pieces[i].text = '';
      } else if (token.singleWord && right && right.text !== '' && !right.text.startsWith(' ')) {
        right.text = pieces[i].text + right.text;
        right.added = false;
        pieces[i].text = '';
      }
    }
    return pieces.filter((p) => p.text !== '').map(({ text, added }) => ({ text, added }));
  }
}
