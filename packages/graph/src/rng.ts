
/**
 * Seeded pseudo-random numbers: xoshiro128** (Blackman & Vigna, 2018) — four 32-bit words of state, so every
 * step is plain 32-bit integer arithmetic (fast in JS, no BigInt on the hot path), period 2^128 − 1.
 *
 * Seeding: the 64-bit seed (and an optional 64-bit stream number) are expanded with splitmix64, exactly as the
 * xoshiro authors recommend, into the four state words. `new Rng(seed, stream)` for different streams gives
 * independent sequences (e.g. one per evaluation sample, so every arm sees the same noise).
 *
 * Derived draws (all documented so other implementations can reproduce them bit for bit):
 * - `nextUint32()`: the xoshiro128** output.
 * - `float()`: 53-bit float in [0, 1) from two outputs a, b: ((a >>> 5)·2^26 + (b >>> 6)) / 2^53.
 * - `int(n)`: uniform in {0..n−1} by rejection (no modulo bias): draw x until x < ⌊2^32/n⌋·n, return x mod n.
 * - `normal()`: Box–Muller on u1 = (a + 1)/2^32 ∈ (0, 1], u2 = b/2^32: z0 = √(−2 ln u1)·cos(2π u2) is returned,
 *   z1 = √(−2 ln u1)·sin(2π u2) is kept as `spare` and returned by the next normal draw.
 *   `fillNormal(out)` is exactly `out.length` successive `normal()` calls, only faster.
 *
 * State: `getState()` returns plain JSON (`RngState`); `setState()` / `Rng.fromState()` resume exactly,
 * including a pending Box–Muller spare.
 */
/** Thrown for an invalid seed, draw argument or saved state; `code` says which. */
export class RngError extends Error {
  constructor(readonly code: 'INVALID_ARGUMENT' | 'INVALID_RNG_STATE', message: string) {
    super(message);
    this.name = 'RngError';
  }
}

export interface RngState {
  algorithm: 'xoshiro128**';
  s: [number, number, number, number];
  spare: number | null;
}

const MASK64 = (1n << 64n) - 1n;
const TWO_POW_32 = 4294967296;
const INV_2_32 = 1 / TWO_POW_32;
const TWO_PI = 2 * Math.PI;

function splitmix64Mix(z: bigint): bigint {
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

function toUint64(value: number | bigint, what: string): bigint {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new RngError('INVALID_ARGUMENT', `${what} must be a safe integer or a bigint, got ${value}`);
  }
  return BigInt.asUintN(64, BigInt(value));
}

export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spare: number | null = null;

  /** `seed` and `stream`: integers (negative ones wrap to 64 bits) or bigints. */
  constructor(seed: number | bigint = 0, stream: number | bigint = 0) {
    // splitmix64 state = seed, perturbed by a mixed stream number so (seed, stream) pairs never collide trivially.
    let z = toUint64(seed, 'seed') ^ splitmix64Mix((toUint64(stream, 'stream') + 0x632be59bd9b4e019n) & MASK64);
    const words: number[] = [];
    for (let i = 0; i < 2; i++) {
      z = (z + 0x9e3779b97f4a7c15n) & MASK64;
      const out = splitmix64Mix(z);
      words.push(Number(out & 0xffffffffn), Number(out >> 32n));
    }
    [this.s0, this.s1, this.s2, this.s3] = words;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  static fromState(state: RngState): Rng {
    const rng = new Rng(0);
    rng.setState(state);
    return rng;
  }

  getState(): RngState {
    return { algorithm: 'xoshiro128**', s: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0], spare: this.spare };
  }

  setState(state: RngState): void {
    const ok =
      state !== null &&
      typeof state === 'object' &&
      state.algorithm === 'xoshiro128**' &&
      Array.isArray(state.s) &&
      state.s.length === 4 &&
      state.s.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_POW_32) &&
      state.s.some((w) => w !== 0) &&
      (state.spare === null || Number.isFinite(state.spare));
    if (!ok) {
      throw new RngError(
        'INVALID_RNG_STATE',
        `not an Rng state: expected {algorithm: "xoshiro128**", s: four uint32 (not all 0), spare: number | null}, got ${JSON.stringify(state)}`,
      );
    }
    [this.s0, this.s1, this.s2, this.s3] = state.s.map((w) => w | 0);
    this.spare = state.spare;
  }

  /** The next raw 32-bit output, as an unsigned number. */
  nextUint32(): number {
    const s0 = this.s0, s1 = this.s1;
    let s2 = this.s2, s3 = this.s3;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    this.s1 = s1 ^ s2;
    this.s0 = s0 ^ s3;
    this.s2 = s2 ^ t;
    this.s3 = (s3 << 11) | (s3 >>> 21);
    return result;
  }

  /** Uniform in [0, 1), 53 bits. */
  float(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /** Uniform integer in {0, …, n − 1}; 1 ≤ n ≤ 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new RngError('INVALID_ARGUMENT', `int(n) needs an integer n in [1, 2^32], got ${n}`);
    }
    const limit = Math.floor(TWO_POW_32 / n) * n;
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** A standard normal draw (Box–Muller, see the file comment). */
  normal(): number {
    if (this.spare !== null) {
      const z = this.spare;
      this.spare = null;
      return z;
    }
    const u1 = (this.nextUint32() + 1) * INV_2_32;
    const u2 = this.nextUint32() * INV_2_32;
    const rad = Math.sqrt(-2 * Math.log(u1));
    this.spare = rad * Math.sin(TWO_PI * u2);
    return rad * Math.cos(TWO_PI * u2);
  }

  /**
   * Fills `out` with `mean + std · N(0, 1)` draws; identical to calling `normal()` `out.length` times.
   * The generator is inlined here because this is the hot path (noise for every training step and sample).
   */
  fillNormal<T extends Float32Array | Float64Array>(out: T, mean = 0, std = 1): T {
    const n = out.length;
    let i = 0;
    if (n === 0) return out;
    if (this.spare !== null) {
      out[i++] = mean + std * this.spare;
      this.spare = null;
    }
    let s0 = this.s0, s1 = this.s1, s2 = this.s2, s3 = this.s3;
    while (i < n) {
      // two xoshiro128** steps, inlined
      let m = Math.imul(s1, 5);
      const a = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
      let t = s1 << 9;
      s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = (s3 << 11) | (s3 >>> 21);
      m = Math.imul(s1, 5);
      const b = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
      t = s1 << 9;
      s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = (s3 << 11) | (s3 >>> 21);

      const rad = Math.sqrt(-2 * Math.log((a + 1) * INV_2_32));
      const angle = TWO_PI * (b * INV_2_32);
      out[i++] = mean + std * (rad * Math.cos(angle));
      const z1 = rad * Math.sin(angle);
      if (i < n) out[i++] = mean + std * z1;
      else this.spare = z1;
    }
    this.s0 = s0; this.s1 = s1; this.s2 = s2; this.s3 = s3;
    return out;
  }

  /** Fisher–Yates shuffle in place (j = int(i + 1) for i from the end down). */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }
}
