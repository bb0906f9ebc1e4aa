import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapMeanInterval, buildReport, mean, meanOfControls, miniatureCriteria, pairedDifferences, reportMarkdown, Rng, ShapesError, standardError, winRate } from '../src/index.ts';

function arm(rng: Rng, base: Float64Array, shift: number, noise: number): Float64Array {
  return base.map((v) => v + shift + noise * rng.normal());
}

test('report: per-arm summaries and the paired differences whose arms are present', () => {
  const rng = new Rng(1);
  const n = 384;
  const base = rng.fillNormal(new Float64Array(n), -0.5, 0.3);
  const A = arm(rng, base, 0, 0.005);
  const B = arm(rng, base, 0.018, 0.02);
  const X = arm(rng, base, 0, 0.005);
  const report = buildReport([
    { w: 4, arms: { A, B, X } },
    { w: 7, arms: { A, B: arm(rng, base, 0.03, 0.02) } },
  ]);
  assert.deepEqual(report.arms.map((a) => [a.w, a.arm, a.n]), [[4, 'A', n], [4, 'B', n], [4, 'X', n], [7, 'A', n], [7, 'B', n]]);
  assert.equal(report.arms[0].mean, mean(A));
  assert.equal(report.arms[0].se, standardError(A));
  assert.deepEqual(report.differences.map((d) => [d.w, d.pair]), [[4, 'B-A'], [4, 'X-A'], [7, 'B-A']]);
  const ba = report.differences[0];
  const diff = pairedDifferences(A, B);
  assert.equal(ba.mean, mean(diff));
  assert.equal(ba.se, standardError(diff));
  assert.deepEqual(ba.ci95, bootstrapMeanInterval(diff, { resamples: 2000, seed: 0 }));
  assert.equal(ba.win_rate, winRate(A, B));
  assert.ok(ba.mean > 0.015 && ba.ci95[0] > 0 && ba.win_rate > 0.7);
  const xa = report.differences[1];
  assert.ok(xa.ci95[0] < 0 && xa.ci95[1] > 0, 'the control arm shows no effect');
  assert.deepEqual(JSON.parse(JSON.stringify(report)), report);

  const md = reportMarkdown(report);
  assert.match(md, /^\| w \| A \(n\) \| B \(n\) \| X \(n\) \|/);
  assert.match(md, new RegExp(`\\| 4 \\| B-A \\| \\+${ba.mean.toFixed(4)} ± ${ba.se.toFixed(4)} \\|`));
  assert.equal(md.split('\n').filter((l) => l.startsWith('| 7 |')).length, 2);
});

test('report: arm X as the mean of antithetic controls, each control also summarised against A', () => {
  const rng = new Rng(2);
  const base = rng.fillNormal(new Float64Array(200), -0.5, 0.3);
  const A = arm(rng, base, 0, 0.005);
  const effect = rng.fillNormal(new Float64Array(200), 0, 0.01);
  const coin = A.map((v, i) => v - 0.004 + effect[i]);
  const mirrored = A.map((v, i) => v + 0.004 - effect[i]);
  const X = meanOfControls([coin, mirrored]);
  X.forEach((x, i) => assert.ok(Math.abs(x - A[i]) < 1e-12));
  const report = buildReport([{ w: 4, arms: { A, X }, controls: { coin, 'coin-mirrored': mirrored } }]);
  assert.deepEqual(report.controls.map((c) => [c.w, c.control]), [[4, 'coin'], [4, 'coin-mirrored']]);
  assert.equal(report.controls[0].mean, mean(pairedDifferences(A, coin)));
  assert.ok(report.controls[0].mean < -0.002 && report.controls[1].mean > 0.002);
  assert.ok(Math.abs(report.differences[0].mean) < 1e-12);
  assert.match(reportMarkdown(report), /\| 4 \| coin-mirrored \| \+0\.00\d\d ± /);
  assert.throws(() => meanOfControls([[1, 2], [1]]), (e: unknown) => e instanceof ShapesError && /paired/.test(e.message));
  assert.throws(() => buildReport([{ w: 4, arms: { B: [1, 2] }, controls: { c: [1, 2] } }]), (e: unknown) => e instanceof ShapesError && /needs arm A/.test(e.message));
});

test("MINIATURE's criteria: B − A thresholds with intervals above 0, |X − A| ≤ 0.003 at every w; missing pairs fail", () => {
  const rng = new Rng(3);
  const base = rng.fillNormal(new Float64Array(384), -0.5, 0.3);
  const A = arm(rng, base, 0, 0.005);
  const at = (w: number, gain: number, x: number) => ({ w, arms: { A, B: arm(rng, base, gain, 0.01), X: arm(rng, base, x, 0.002) } });
  const passing = buildReport([at(4, 0.02, 0.001), at(7, 0.03, -0.002)]);
  assert.deepEqual(miniatureCriteria(passing).map((c) => c.pass), [true, true, true]);
  const weak = buildReport([at(4, 0.012, 0.001), at(7, 0.03, -0.005)]);
  const c = miniatureCriteria(weak);
  assert.deepEqual(c.map((k) => k.pass), [false, true, false]);
  assert.ok(Math.abs(c[2].value! + 0.005) < 0.001, 'the X − A value shown is the worst one');
  assert.deepEqual(miniatureCriteria(buildReport([at(4, 0.02, 0)])).map((k) => [k.pass, k.value === null]), [[true, false], [false, true], [true, false]]);
  const md = reportMarkdown({ ...weak, criteria: c });
  assert.match(md, /\| B − A ≥ \+0\.015 at w = 4, 95% interval above 0 \| \+0\.01\d\d \| FAIL \|/);
});

test('report refuses unpaired arms and unknown arm names', () => {
  assert.throws(() => buildReport([{ w: 4, arms: { A: [1, 2, 3], B: [1, 2] } }]), (e: unknown) => e instanceof ShapesError && e.code === 'INVALID_ARGUMENT');
  assert.throws(() => buildReport([{ w: 4, arms: { Q: [1, 2] } as never }]), (e: unknown) => e instanceof ShapesError && /unknown arm "Q"/.test(e.message));
});
