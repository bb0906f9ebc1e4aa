/**
 * The uint8 quantisation used by the reward and by stored images (preference pairs are kept as uint8):
 *   byte  = round((clamp(v, −1, 1) + 1) / 2 · 255)      (Math.round: halves go up)
 *   value = byte / 255 · 2 − 1
 * Computed in float64 from whatever the buffer holds; clean renderings in a Float32Array quantise to
 * background 64, colour channels 242 (0.9) and 25 (−0.8).
 */
export function quantiseValue(v: number): number {
  const c = v < -1 ? -1 : v > 1 ? 1 : v;
  // NaN compares false both ways above; map it to the middle rather than poison the byte array with 0.
  return Number.isNaN(c) ? 128 : Math.round(((c + 1) / 2) * 255);
}

export function dequantiseValue(byte: number): number {
  return (byte / 255) * 2 - 1;
}

/** Quantises every value, keeping the layout (CHW in, CHW out). */
export function quantiseImage(values: Float32Array | Float64Array, out: Uint8Array = new Uint8Array(values.length)): Uint8Array {
  for (let i = 0; i < values.length; i++) out[i] = quantiseValue(values[i]);
  return out;
}
