/**
 * Byte-level BPE with CLIP's end-of-word marker, written here rather than taken from `@huggingface/tokenizers`:
 * that library needs a whole tokenizer.json pipeline whose normalizer cannot express the reference's clean-up
 * (tokenizer-text.ts), and the BPE step itself is the short loop below — a line-for-line port of
 * transformers' `CLIPTokenizer.bpe`, so ties and edge cases (one-byte words, repeated pairs) behave identically.
 */

export const END_OF_WORD = '</w>';

/**
 * GPT-2's reversible byte → printable character table (`bytes_to_unicode`): printable Latin-1 bytes map to
 * themselves, the other 68 bytes to U+0100 onwards, in byte order. CLIP's vocabulary starts with these 256
 * characters in this table's order (printable ones first).
 */
export function byteToUnicodeTable(): { bytes: number[]; chars: string[] } {
  const bytes: number[] = [];
  const range = (from: string, to: string) => {
    for (let b = from.charCodeAt(0); b <= to.charCodeAt(0); b++) bytes.push(b);
  };
  range('!', '~');
  range('¡', '¬');
  range('®', 'ÿ');
  const codes = [...bytes];
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      codes.push(256 + extra++);
    }
  }
  return { bytes, chars: codes.map((c) => String.fromCodePoint(c)) };
}

const BYTE_CHAR: string[] = (() => {
  const { bytes, chars } = byteToUnicodeTable();
  const table = new Array<string>(256);
  bytes.forEach((b, i) => (table[b] = chars[i]));
  return table;
})();

const UTF8 = new TextEncoder();

/** A word's UTF-8 bytes, each written as its printable stand-in character. */
export function byteEncode(word: string): string {
  let out = '';
  for (const b of UTF8.encode(word)) out += BYTE_CHAR[b];
  return out;
}

/** Merge ranks keyed by `first + ' ' + second` (byte-level symbols never contain a space). */
export type MergeRanks = Map<string, number>;

export function mergeRanks(merges: ReadonlyArray<readonly [string, string]>): MergeRanks {
  const ranks: MergeRanks = new Map();
  // A repeated pair keeps its last rank, as Python's dict(zip(merges, range(n))) does.
  merges.forEach(([a, b], i) => ranks.set(`${a} ${b}`, i));
  return ranks;
}

/**
 * BPE of one byte-encoded word: start from its characters with `</w>` glued to the last, then repeatedly merge
 * every occurrence (left to right, non-overlapping) of the lowest-ranked adjacent pair until none is ranked.
 */
export function bpeWord(word: string, ranks: MergeRanks): string[] {
  const chars = [...word];
  if (chars.length === 0) return [];
  let symbols = [...chars.slice(0, -1), chars[chars.length - 1] + END_OF_WORD];
  while (symbols.length > 1) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i < symbols.length - 1; i++) {
      const r = ranks.get(`${symbols[i]} ${symbols[i + 1]}`);
      if (r !== undefined && r < bestRank) {
        bestRank = r;
        best = i;
      }
    }
    if (best < 0) break;
    const first = symbols[best];
    const second = symbols[best + 1];
    const merged: string[] = [];
    for (let i = 0; i < symbols.length; ) {
      if (symbols[i] === first && i < symbols.length - 1 && symbols[i + 1] === second) {
        merged.push(first + second);
        i += 2;
      } else {
        merged.push(symbols[i]);
        i += 1;
      }
    }
    symbols = merged;
  }
  return symbols;
}
