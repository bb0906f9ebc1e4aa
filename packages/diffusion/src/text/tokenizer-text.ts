/**
 * CLIP's text clean-up and pre-tokenization, exactly as transformers' slow `CLIPTokenizer` does it when ftfy is not
 * installed (the reference): a BERT `BasicTokenizer(strip_accents=False, do_split_on_punc=False)` cleans the text,
 * then CLIP's regex cuts it into words.
 *
 * BasicTokenizer, in order: drop NUL, U+FFFD and every character of Unicode category C* except \t \n \r (so
 * zero-width spaces and other format characters vanish, joining their neighbours); turn \t \n \r and category Zs
 * into a space; put spaces around CJK ideographs; NFC; split on whitespace; lower-case each piece; re-join with
 * single spaces. The Rust "fast" tokenizer normalizes differently (it keeps format characters, for one), which is
 * why it disagrees with the reference on some prompts.
 */

/** CLIP's pre-tokenization pattern (transformers' CLIPTokenizer.pat; compiled there with IGNORECASE). */
const CLIP_PATTERN = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;

/**
 * The pattern's first two alternatives; the slow tokenizer's BPE cache is seeded with them, so (in any case, once
 * lower-cased) they come out as whole tokens even when the special-token split did not catch them.
 */
export const CLIP_LITERAL_SPECIALS: ReadonlySet<string> = new Set(['<|startoftext|>', '<|endoftext|>']);

const CONTROL = /^\p{C}$/u;
const SPACE_SEPARATOR = /^\p{Zs}$/u;
/** What Python's str.split() splits on, for the characters that survive cleaning (Zl, Zp besides the space). */
const WHITESPACE_RUN = /[\s\u2028\u2029]+/u;

function isCjkIdeograph(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** BasicTokenizer's clean-up; returns the cleaned, lower-cased text with single spaces between pieces. */
export function cleanClipText(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (ch === '\t' || ch === '\n' || ch === '\r' || SPACE_SEPARATOR.test(ch)) out += ' ';
    else if (cp === 0 || cp === 0xfffd || CONTROL.test(ch)) continue;
    else if (isCjkIdeograph(cp)) out += ` ${ch} `;
    else out += ch;
  }
  return out
    .normalize('NFC')
    .split(WHITESPACE_RUN)
    .filter((piece) => piece.length > 0)
    .map((piece) => piece.toLowerCase())
    .join(' ');
}

/** Cleans `text` and cuts it into CLIP's pre-tokenization words (before byte encoding and BPE). */
export function preTokenizeClip(text: string): string[] {
  return cleanClipText(text).match(CLIP_PATTERN) ?? [];
}
