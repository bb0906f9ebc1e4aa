import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { newId } from '@npo/contracts';
import { recordUsage, summarize } from '@npo/platform';
import { createTestApi, bearer, seedReady, type TestApi } from './helpers.ts';

// Cost accounting as tenants and the operator read it: a job's usage in the job resource, a tenant's over a period
// at /v1/usage, totals in /metrics. Usage rows are written as workers write them (recordUsage, which also keeps the
// job's running total; the meter itself: apps/worker/test/train-bookkeeping.test.ts).
let t: TestApi;
before(async () => { t = await createTestApi('usage'); });
after(async () => { await t.close(); });

const HOUR = 3_600_000;
const at = (iso: string) => new Date(iso);

async function row(tenantId: string, o: { job?: string; sample?: string; phase: string; seconds: number; ended: string; kind?: string; rss?: number; currency?: string }) {
  const ended = at(o.ended);
  await recordUsage(t.ctx.db, {
    tenant_id: tenantId, job_id: o.job ?? null, sample_set_id: o.sample ?? null, phase: o.phase, device_kind: o.kind ?? 'cpu', device_count: 1,
    seconds: o.seconds, peak_rss_mb: o.rss ?? 500, cost: o.seconds * (o.kind === 'cuda' ? 2.5 : 0.05) / 3600, currency: o.currency ?? 'USD',
    started_at: new Date(ended.getTime() - o.seconds * 1000), ended_at: ended,
  });
}

async function newJob(key: string, tenantId: string) {
  const seeded = await seedReady(t.ctx.db, tenantId);
  const res = await t.app.inject({ method: 'POST', url: '/v1/jobs', headers: bearer(key), payload: { model: seeded.model, dataset: seeded.dataset, method: 'npo' } });
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as { id: string; usage: unknown };
}

test("a job's usage: device-seconds per phase, devices, peak memory and cost, in the job, its list and its cancel answer", async () => {
  const job = await newJob(t.keyA, t.tenantA);
  assert.deepEqual(job.usage, { device_seconds: { preparing: 0, compiling: 0, training: 0, sampling: 0, total: 0 }, devices: [], peak_rss_mb: null, cost: [] });
  await row(t.tenantA, { job: job.id, phase: 'preparing', seconds: 10, ended: '2026-11-01T10:00:00Z' });
  await row(t.tenantA, { job: job.id, phase: 'compiling', seconds: 2, ended: '2026-11-01T10:00:02Z' });
  await row(t.tenantA, { job: job.id, phase: 'training', seconds: 60, ended: '2026-11-01T10:01:02Z', rss: 900 });
  await row(t.tenantA, { job: job.id, phase: 'training', seconds: 30, ended: '2026-11-01T10:01:32Z', kind: 'cuda', rss: 700 });
  await row(t.tenantA, { job: job.id, sample: newId('smp'), phase: 'sampling', seconds: 4, ended: '2026-11-01T10:02:00Z', kind: 'cuda' });
  const want = {
    device_seconds: { preparing: 10, compiling: 2, training: 90, sampling: 4, total: 106 },
    devices: [{ kind: 'cpu', count: 1, seconds: 72 }, { kind: 'cuda', count: 1, seconds: 34 }],
    peak_rss_mb: 900,
    cost: [{ amount: Number((72 * 0.05 / 3600 + 34 * 2.5 / 3600).toFixed(6)), currency: 'USD' }],
  };
  const sortDevices = (u: typeof want) => ({ ...u, devices: [...u.devices].sort((a, b) => a.kind.localeCompare(b.kind)) });
  const got = await t.app.inject({ url: `/v1/jobs/${job.id}`, headers: bearer(t.keyA) });
  assert.deepEqual(sortDevices(got.json().usage), want);
  const list = await t.app.inject({ url: '/v1/jobs', headers: bearer(t.keyA) });
  assert.deepEqual(sortDevices(list.json().data.find((j: { id: string }) => j.id === job.id).usage), want);
  const cancelled = await t.app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel`, headers: bearer(t.keyA) });
  assert.deepEqual(sortDevices(cancelled.json().usage), want);
  // another tenant learns nothing, not even that the job exists
  assert.equal((await t.app.inject({ url: `/v1/jobs/${job.id}`, headers: bearer(t.keyB) })).statusCode, 404);
});

test("writers of one job's usage at once (its run, its sample sets on other workers) each land in its total once", async () => {
  const job = await newJob(t.keyA, t.tenantA);
  const writes = Array.from({ length: 12 }, (_, i) => ({ job: job.id, sample: i % 3 ? newId('smp') : undefined, phase: i % 3 ? 'sampling' : 'training', seconds: 1 + i, ended: '2026-11-02T00:00:00Z', rss: 100 + i }));
  await Promise.all(writes.map((w) => row(t.tenantA, w)));
  const stored = await t.ctx.db.job.findUniqueOrThrow({ where: { id: job.id } });
  assert.equal(stored.usage_rows, writes.length);
  const rows = await t.ctx.db.usageRecord.findMany({ where: { job_id: job.id }, orderBy: { id: 'asc' } });
  const got = (await t.app.inject({ url: `/v1/jobs/${job.id}`, headers: bearer(t.keyA) })).json().usage;
  assert.deepEqual(got, summarize(rows));
  assert.equal(got.device_seconds.total, writes.reduce((a, w) => a + w.seconds, 0));
});

test('/v1/usage sums the rows of this tenant that ended in [from, to), by phase, device and currency', async () => {
  const tenant = (await t.app.inject({ url: '/v1/usage', headers: bearer(t.keyB) })).json();
  assert.equal(tenant.device_seconds.total, 0, 'tenant B has spent nothing yet');
  const job = await newJob(t.keyB, t.tenantB);
  await row(t.tenantB, { job: job.id, phase: 'training', seconds: 3600, ended: '2026-10-15T00:00:00Z' });
  await row(t.tenantB, { job: job.id, phase: 'training', seconds: 1800, ended: '2026-10-31T23:59:59.999Z', kind: 'cuda' });
  await row(t.tenantB, { job: job.id, sample: newId('smp'), phase: 'sampling', seconds: 60, ended: '2026-10-20T00:00:00Z', kind: 'cuda', rss: 1234 });
  await row(t.tenantB, { job: job.id, phase: 'training', seconds: 99, ended: '2026-11-01T00:00:00Z' }); // `to` is exclusive
  await row(t.tenantB, { job: job.id, phase: 'training', seconds: 77, ended: '2026-09-30T23:59:59Z' }); // before `from`
  await row(t.tenantA, { phase: 'training', seconds: 5000, ended: '2026-10-10T00:00:00Z' }); // another tenant's
  const res = await t.app.inject({ url: '/v1/usage?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z', headers: bearer(t.keyB) });
  assert.equal(res.statusCode, 200, res.body);
  const u = res.json();
  assert.equal(u.from, '2026-10-01T00:00:00.000Z');
  assert.equal(u.to, '2026-11-01T00:00:00.000Z');
  assert.deepEqual(u.device_seconds, { preparing: 0, compiling: 0, training: 5400, sampling: 60, total: 5460 });
  assert.deepEqual([u.jobs, u.sample_sets, u.peak_rss_mb], [1, 1, 1234]);
  assert.deepEqual(u.cost, [{ amount: Number((0.05 + 0.5 * 2.5 + 60 * 2.5 / 3600).toFixed(6)), currency: 'USD' }]);
  // the default period is the 30 days up to now
  const recent = (await t.app.inject({ url: '/v1/usage', headers: bearer(t.keyB) })).json();
  assert.ok(Math.abs(new Date(recent.to).getTime() - Date.now()) < 60_000);
  assert.equal(new Date(recent.to).getTime() - new Date(recent.from).getTime(), 30 * 24 * HOUR);
});

test('/v1/usage refuses periods it cannot answer with 400 and the field', async () => {
  for (const [query, field] of [
    ['from=yesterday', 'querystring.from'],
    ['to=2026-13-45T00:00:00Z', 'querystring.to'],
    ['from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z', 'querystring.from'],
    ['from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z', 'querystring.from'],
    ['tenant=someone-else', 'querystring.tenant'],
  ]) {
    const res = await t.app.inject({ url: `/v1/usage?${query}`, headers: bearer(t.keyA) });
    assert.equal(res.statusCode, 400, `${query}: ${res.body}`);
    assert.equal(res.json().error.code, 'validation_error', query);
    assert.equal(res.json().error.details.field, field, query);
  }
  assert.equal((await t.app.inject({ url: '/v1/usage' })).statusCode, 401);
});

test('/metrics totals device-seconds by phase and device, and cost by currency, with no tenant in them', async () => {
  const text = (await t.app.inject({ url: '/metrics' })).body;
  const value = (line: string) => Number(new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
  assert.ok(value('npo_device_seconds{phase="training",device="cuda"}') >= 1830);
  assert.ok(value('npo_cost{currency="USD"}') > 0);
  assert.doesNotMatch(text, new RegExp(`${t.tenantA}|${t.tenantB}`));
});
