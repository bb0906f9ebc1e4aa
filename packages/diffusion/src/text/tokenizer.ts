/**
 * CLIP's BPE tokenizer, matching transformers' slow `CLIPTokenizer` (the reference) on the fixture prompts:
 * split off special/added tokens, clean and lower-case (tokenizer-text.ts), cut into words with CLIP's pattern,
 * byte-encode, BPE with `</w>` (tokenizer-bpe.ts), then bos + ids + eos truncated and padded to model_max_length
 * with the folder's pad token — what `tokenizer(p, padding="max_length", truncation=True)` returns in SD pipelines.
 *
 * BPE is quadratic in a word's length, and a prompt is upload data: `encode` runs BPE only on what
 * model_max_length tokens can use (boundedTokens below), so its work per prompt is bounded whatever the prompt.
 */
import { bpeWord, byteEncode, END_OF_WORD, mergeRanks, type MergeRanks } from './tokenizer-bpe.ts';
import { TokenizerError } from './tokenizer-errors.ts';
import { readTokenizerFolder, type AddedToken, type TokenizerFiles } from './tokenizer-files.ts';
import { CLIP_LITERAL_SPECIALS, clipWords, preTokenizeClip } from './tokenizer-text.ts';

export { TokenizerError, type TokenizerErrorCode } from './tokenizer-errors.ts';

export interface ClipEncoding {
  /** bos + ids + eos, truncated to modelMaxLength and padded with padId. */
  inputIds: number[];
  /** 1 over bos..eos, 0 over padding. */
  attentionMask: number[];
  /** Whether some tokens did not fit. */
  truncated: boolean;
  /** Characters (byte-level) that went through BPE: bounded by model_max_length, not by the prompt's length. */
  tokenizedChars: number;
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
  /** The longest symbol a merge can make, in byte-level characters (without `</w>`): a word of n bytes is ≥ n / this tokens. */
  private readonly maxSymbolChars: number;

  private constructor(files: TokenizerFiles) {
    this.vocab = files.vocab;
    this.addedIds = files.addedIds;
    const byContent = new Map<string, AddedToken>();
    for (const t of files.addedTokens) if (t.content !== '') byContent.set(t.content, t);
    this.addedTokens = [...byContent.values()].sort((a, b) => b.content.length - a.content.length);
    this.ranks = mergeRanks(files.merges);
    let longest = 1;
    for (const [a, b] of files.merges) longest = Math.max(longest, [...(a + b).replace(END_OF_WORD, '')].length);
    this.maxSymbolChars = longest;
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

  /**
   * Every BPE token of `text`, without bos/eos; literal special tokens in the text come out whole. Unbounded (BPE is
   * quadratic in a word's length): for verification against the reference; `encode` is what training uses.
   */
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

  /** bos + every id + eos, not truncated or padded (unbounded, like `tokenize`). */
  untruncatedIds(text: string): number[] {
    return [this.bosId, ...this.tokenize(text).map((t) => this.idOf(t)), this.eosId];
  }

  /**
   * The tokens `encode` keeps, and enough to know whether more were cut: at most `limit` tokens from the start (from
   * the end when truncating on the left). Words are taken in order while they can still contribute (each is at least
   * one token, and a word of n byte-level characters at least n / maxSymbolChars), and a word that alone overflows
   * is cut to what the remaining tokens can use before BPE. So the BPE work per prompt is bounded by
   * model_max_length, and a prompt that fits is tokenized exactly as `tokenize` does (only words past the limit are
   * skipped or cut; for an over-long prompt the last kept tokens of a cut word may differ from the uncut word's).
   */
  private boundedTokens(text: string, limit: number): { tokens: string[]; chars: number } {
    const fromEnd = this.truncationSide === 'left';
    const pieces = this.splitAddedTokens(text);
    if (fromEnd) pieces.reverse();
    const tokens: string[] = [];
    let chars = 0;
    for (const piece of pieces) {
      if (tokens.length >= limit) break;
      if (piece.added) {
        tokens.push(piece.text);
        continue;
      }
      const words = fromEnd ? [...clipWords(piece.text)].reverse() : clipWords(piece.text);
      for (const word of words) {
        const room = limit - tokens.length;
        if (room <= 0) break;
        let bpe: string[];
        if (CLIP_LITERAL_SPECIALS.has(word)) bpe = [word];
        else {
          // a character is at least one byte: cut the characters first, then the bytes
          const usable = (room + 1) * this.maxSymbolChars;
          const cut = word.length > 2 * usable ? (fromEnd ? word.slice(word.length - 2 * usable) : word.slice(0, 2 * usable)) : word;
          let encoded = [...byteEncode(cut)];
          if (encoded.length > usable) encoded = fromEnd ? encoded.slice(encoded.length - usable) : encoded.slice(0, usable);
          chars += encoded.length;
          bpe = this.bpeEncoded(encoded.join(''));
        }
        if (fromEnd) tokens.push(...bpe.slice(Math.max(0, bpe.length - room)).reverse());
        else tokens.push(...bpe.slice(0, room));
      }
    }
    return { tokens: fromEnd ? tokens.reverse() : tokens, chars };
  }

  private idOf(token: string): number {
    return this.addedIds.get(token) ?? this.vocab.get(token) ?? this.unkId;
  }

  encode(text: string): ClipEncoding {
    const budget = this.modelMaxLength - 2;
    const { tokens, chars } = this.boundedTokens(text, budget + 1);
    const ids = tokens.map((t) => this.idOf(t));
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
      tokenizedChars: chars,
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
    return this.bpeEncoded(byteEncode(word));
  }

  private bpeEncoded(encoded: string): string[] {
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
    // the next occurrence of each added token (native indexOf, linear in the text), leftmost then longest
    const nextAt = this.addedTokens.map((t) => text.indexOf(t.content));
    for (let i = 0; i < text.length; ) {
      let best = -1;
      for (let k = 0; k < this.addedTokens.length; k++) {
        if (nextAt[k] >= 0 && nextAt[k] < i) nextAt[k] = text.indexOf(this.addedTokens[k].content, i);
        if (nextAt[k] >= 0 && (best < 0 || nextAt[k] < nextAt[best])) best = k;
      }
      if (best < 0) break;
      const token = this.addedTokens[best];
      const at = nextAt[best];
      if (at > plainStart) pieces.push({ text: text.slice(plainStart, at), added: false });
      pieces.push({ text: token.content, added: true, token });
      i = at + token.content.length;
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
