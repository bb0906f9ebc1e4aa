/**
 * SDXL's prompt embedding: per token, text_encoder's penultimate state then text_encoder_2's, concatenated on the
 * feature axis ([n, S, D1] + [n, S, D2] → [n, S, D1 + D2]), as the SDXL pipeline's encode_prompt builds it.
 */
export function concatPromptEmbeds(first: Float32Array, d1: number, second: Float32Array, d2: number): Float32Array {
  const rows = first.length / d1;
  if (!Number.isInteger(rows) || second.length !== rows * d2)
    throw new Error(`SDXL prompt embeds: ${first.length} values of width ${d1} and ${second.length} of width ${d2} are not the same tokens`);
  const out = new Float32Array(rows * (d1 + d2));
  for (let r = 0; r < rows; r++) {
    out.set(first.subarray(r * d1, (r + 1) * d1), r * (d1 + d2));
    out.set(second.subarray(r * d2, (r + 1) * d2), r * (d1 + d2) + d1);
  }
  return out;
}
