import { COLOUR_NAMES, SHAPE_NAMES, getPrompt } from './world.ts';

/**
 * The 9-token vocabulary of the shapes world's conditioning (MINIATURE.md): a prompt is `<bos> colour shape
 * <eos>` (4 tokens), the empty prompt `<bos> <eos> <eos> <eos>`. Ids: 0 <bos>, 1 <eos>, 2–5 the colours in
 * COLOUR_NAMES order, 6–8 the shapes in SHAPE_NAMES order.
 */
export const TOKENS: readonly string[] = ['<bos>', '<eos>', ...COLOUR_NAMES, ...SHAPE_NAMES];
export const BOS = 0;
export const EOS = 1;
export const SEQUENCE_LENGTH = 4;

/** Token ids of a prompt, or of the empty (unconditional) prompt when `promptIndex` is null. */
export function promptTokenIds(promptIndex: number | null): [number, number, number, number] {
  if (promptIndex === null) return [BOS, EOS, EOS, EOS];
  const { colour, shape } = getPrompt(promptIndex);
  return [BOS, 2 + COLOUR_NAMES.indexOf(colour), 2 + COLOUR_NAMES.length + SHAPE_NAMES.indexOf(shape), EOS];
}
