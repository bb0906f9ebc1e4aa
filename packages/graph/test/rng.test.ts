import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, RngError } from '../src/rng.ts';

test('xoshiro128** matches the reference C implementation from state {1, 2, 3, 4}', () => {
  // Printed by the authors' xoshiro128starstar.c with s = {1, 2, 3, 4}.
  const expected = [11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849];
  const rng = Rng.fromState({ algorithm: 'xoshiro128**', s: [1, 2, 3, 4], spare: null });
  assert.deepEqual(Array.from({ length: 8 }, () => rng.nextUint32()), expected);
});

test('same seed and stream give the same sequence; other seeds or streams differ', () => {
  const draw = (rng: Rng) => Array.from({ length: 16 }, () => rng.nextUint32());
  assert.deepEqual(draw(new Rng(42)), draw(new Rng(42)));
  assert.deepEqual(draw(new Rng(42, 7)), draw(new Rng(42, 7)));
  assert.deepEqual(draw(new Rng(42n)), draw(new Rng(42)));
  assert.notDeepEqual(draw(new Rng(42)), draw(new Rng(43)));
  assert.notDeepEqual(draw(new Rng(42, 0)), draw(new Rng(42, 1)));
});

test('state survives a JSON round trip mid-stream, including a pending Box–Muller spare', () => {
  const rng = new Rng(5);
  rng.float();
  rng.normal(); // leaves a spare behind
  const saved = JSON.parse(JSON.stringify(rng.getState()));
  assert.notEqual(saved.spare, null);
  const next = [rng.normal(), rng.normal(), rng.float(), rng.int(1000)];
  const resumed = Rng.fromState(saved);
  assert.deepEqual([resumed.normal(), resumed.normal(), resumed.float(), resumed.int(1000)], next);
  const again = new Rng(0);
  again.setState(saved);
  assert.equal(again.normal(), next[0]);
});

test('fillNormal is exactly successive normal() calls, for odd and even lengths and with a spare pending', () => {
  for (const lengths of [[7, 4], [1, 1, 6], [10, 3, 0, 5]]) {
    const a = new Rng(11);
    const b = new Rng(11);
    for (const n of lengths) {
      const filled = a.fillNormal(new Float64Array(n));
      const one = Array.from({ length: n }, () => b.normal());
      assert.deepEqual(Array.from(filled), one);
    }
    assert.deepEqual(a.getState(), b.getState());
  }
  const scaled = new Rng(3).fillNormal(new Float64Array(5), 2, 3);
  const plain = new Rng(3).fillNormal(new Float64Array(5));
  scaled.forEach((v, i) => assert.ok(Math.abs(v - (2 + 3 * plain[i])) < 1e-12));
});

test('normal draws have mean ≈ 0, std ≈ 1 and normal tails', () => {
  const n = 200_000;
  const z = new Rng(2024).fillNormal(new Float32Array(n));
  let sum = 0, sq = 0, tails = 0;
  for (const v of z) {
    sum += v;
    sq += v * v;
    if (Math.abs(v) > 1.959964) tails++;
  }
  const m = sum / n;
  const std = Math.sqrt(sq / n - m * m);
  assert.ok(Math.abs(m) < 0.01, `mean ${m}`);
  assert.ok(Math.abs(std - 1) < 0.01, `std ${std}`);
  assert.ok(Math.abs(tails / n - 0.05) < 0.003, `tail fraction ${tails / n}`);
});

test('floats lie in [0, 1) with mean ½; int(n) is uniform over 0..n−1', () => {
  const rng = new Rng(9);
  let sum = 0;
  for (let i = 0; i < 100_000; i++) {
    const u = rng.float();
    assert.ok(u >= 0 && u < 1);
    sum += u;
  }
  assert.ok(Math.abs(sum / 100_000 - 0.5) < 0.005);
  const counts = new Array(10).fill(0);
  for (let i = 0; i < 100_000; i++) counts[rng.int(10)]++;
  for (const c of counts) assert.ok(Math.abs(c - 10_000) < 500, `count ${c}`);
  assert.equal(rng.int(1), 0);
  const u = rng.uniform(6, 10);
  assert.ok(u >= 6 && u < 10);
});

test('shuffle returns a permutation', () => {
  const items = Array.from({ length: 50 }, (_, i) => i);
  const shuffled = new Rng(1).shuffle([...items]);
  assert.notDeepEqual(shuffled, items);
  assert.deepEqual([...shuffled].sort((a, b) => a - b), items);
});

test('bad arguments and states are refused with stable codes', () => {
  const rng = new Rng(1);
  assert.throws(() => rng.int(0), (e: unknown) => e instanceof RngError && e.code === 'INVALID_ARGUMENT');
  assert.throws(() => rng.int(2.5), (e: unknown) => e instanceof RngError && e.code === 'INVALID_ARGUMENT');
  assert.throws(() => new Rng(0.5), (e: unknown) => e instanceof RngError && e.code === 'INVALID_ARGUMENT');
  for (const bad of [null, {}, { algorithm: 'xoshiro128**', s: [0, 0, 0, 0], spare: null }, { algorithm: 'mt', s: [1, 2, 3, 4], spare: null }, { algorithm: 'xoshiro128**', s: [1, 2, 3, 2 ** 32], spare: null }]) {
    assert.throws(() => rng.setState(bad as never), (e: unknown) => e instanceof RngError && e.code === 'INVALID_RNG_STATE');
  }
});
