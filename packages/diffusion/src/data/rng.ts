/**
 * A small seeded generator (sfc32) whose whole state is four uint32s, so it can be saved and restored exactly.
 * `derive(seed, ...counters)` gives an independent stream per (seed, epoch, window): the data order is then a pure
 * function of position, which is what makes resuming a shuffled reader exact.
 */
export class Rng {
  private s: Uint32Array;

  constructor(state: ArrayLike<number>) {
    this.s = Uint32Array.from(state);
    if (this.s.length !== 4) throw new Error(`rng state must be 4 uint32 words, got ${this.s.length}`);
  }

  static derive(seed: number, ...counters: number[]): Rng {
    // splitmix32 over the inputs fills the four words; then a few rounds to mix sfc32's state.
    let h = seed >>> 0;
    const mix = (x: number) => {
      h = (h + 0x9e3779b9 + (x >>> 0)) >>> 0;
      let z = h;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    for (const c of counters) mix(c);
    const rng = new Rng([mix(1), mix(2), mix(3), mix(4)]);
    for (let i = 0; i < 12; i++) rng.nextUint32();
    return rng;
  }

  nextUint32(): number {
    const s = this.s;
    const t = (((s[0] + s[1]) >>> 0) + s[3]) >>> 0;
    s[3] = (s[3] + 1) >>> 0;
    s[0] = s[1] ^ (s[1] >>> 9);
    s[1] = (s[2] + (s[2] << 3)) >>> 0;
    s[2] = ((s[2] << 21) | (s[2] >>> 11)) >>> 0;
    s[2] = (s[2] + t) >>> 0;
    return t;
  }

  /** Uniform integer in [0, n), without modulo bias. */
  below(n: number): number {
    if (n <= 1) return 0;
    const limit = 0x100000000 - (0x100000000 % n);
    let x: number;
    do x = this.nextUint32();
    while (x >= limit);
    return x % n;
  }

  /** Fisher–Yates, in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  getState(): number[] {
    return Array.from(this.s);
  }
}
