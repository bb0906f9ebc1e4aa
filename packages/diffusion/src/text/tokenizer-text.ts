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

/** \t \n \r and category Zs: become a space. */
const SPACE_LIKE = /[\t\n\r\p{Zs}]/gu;
/** NUL, U+FFFD and category C* (the \t \n \r exceptions are spaces by now): dropped. */
const DROPPED = /[\u0000\ufffd\p{C}]/gu;
/** CJK ideographs: spaced apart. */
const CJK = /[\u4e00-\u9fff\u3400-\u4dbf\u{20000}-\u{2a6df}\u{2a700}-\u{2b73f}\u{2b740}-\u{2b81f}\u{2b820}-\u{2ceaf}\uf900-\ufaff\u{2f800}-\u{2fa1f}]/gu;
/** What Python's str.split() splits on, for the characters that survive cleaning (Zl, Zp besides the space). */
const WHITESPACE_RUN = /[\s\u2028\u2029]+/u;

/**
 * BasicTokenizer's clean-up; returns the cleaned, lower-cased text with single spaces between pieces. The three
 * character classes are disjoint, so three native replaces do what a per-character pass would, in linear time.
 */
export function cleanClipText(text: string): string {
  return text
    .replace(SPACE_LIKE, ' ')
    .replace(DROPPED, '')
    .replace(CJK, ' $& ')
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

/**
 * The same words as preTokenizeClip, one at a time and cleaned a chunk at a time, so a caller that needs only the
 * first few does work for those only. Chunks end at a plain space: cleaning turns it into a word boundary and NFC
 * never composes across it, so chunk by chunk gives exactly the whole text's words.
 */
export function* clipWords(text: string, chunkChars = 4096): Generator<string> {
  for (let start = 0; start < text.length; ) {
    let end = start + chunkChars >= text.length ? text.length : text.indexOf(' ', start + chunkChars);
    if (end < 0) end = text.length;
    for (const m of cleanClipText(text.slice(start, end)).matchAll(CLIP_PATTERN)) yield m[0];
    start = end;
  }
}
