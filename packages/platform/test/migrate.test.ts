import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, cpSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { listMigrations, migrate, MigrationError } from '../src/db/migrate.ts';
import { jobUsage, summarize, type UsageRow, type UsageSummary } from '../src/usage/summary.ts';
import { loadConfig } from '../src/config.ts';
import { MIGRATIONS_DIR } from '../src/paths.ts';
import { ensureDatabase } from '../src/db/ensure-database.ts';

const { databaseUrl } = loadConfig();
const schemas: string[] = [];
const dirs: string[] = [];
const freshSchema = () => { const s = `t_migrate_${randomBytes(4).toString('hex')}`; schemas.push(s); return s; };
const scratch = () => { const d = mkdtempSync(join(tmpdir(), 'npo-mig-')); dirs.push(d); return d; };

async function query(sql: string, params: unknown[] = []) {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try { return (await c.query(sql, params)).rows; } finally { await c.end(); }
}

after(async () => {
  for (const s of schemas) await query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('ensureDatabase creates a missing database once', async () => {
  const name = `npo_t_${randomBytes(3).toString('hex')}`;
  const url = databaseUrl.replace(/\/[^/]*$/, `/${name}`);
  assert.equal(await ensureDatabase(url), true);
  assert.equal(await ensureDatabase(url), false);
  await query(`DROP DATABASE "${name}"`);
});

test('the real migrations apply once, are recorded with sha256 checksums, and re-running is a no-op', async () => {
  const schema = freshSchema();
  const first = await migrate({ databaseUrl, schema, migrationsDir: MIGRATIONS_DIR });
  assert.ok(first.applied.length >= 1);
  const second = await migrate({ databaseUrl, schema, migrationsDir: MIGRATIONS_DIR });
  assert.deepEqual(second.applied, []);
  assert.deepEqual(second.skipped, first.applied);
  const rows = await query(`SELECT migration_name, checksum, finished_at, applied_steps_count FROM "${schema}"."_prisma_migrations" ORDER BY migration_name`);
  assert.equal(rows.length, first.applied.length);
  for (const r of rows) {
    const sha = createHash('sha256').update(readFileSync(join(MIGRATIONS_DIR, r.migration_name, 'migration.sql'))).digest('hex');
    assert.equal(r.checksum, sha);
    assert.ok(r.finished_at);
  }
  const tables = (await query('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [schema])).map((r) => r.table_name).sort();
  for (const t of ['api_keys', 'checkpoints', 'datasets', 'job_events', 'job_metrics', 'jobs', 'models', 'sample_sets', 'tenants']) assert.ok(tables.includes(t), t);
});

test('concurrent runners apply each migration exactly once (advisory lock)', async () => {
  const schema = freshSchema();
  const results = await Promise.all([1, 2, 3].map(() => migrate({ databaseUrl, schema, migrationsDir: MIGRATIONS_DIR })));
  assert.equal(results.reduce((n, r) => n + r.applied.length, 0), results[0].applied.length + results[0].skipped.length);
  const rows = await query(`SELECT count(*)::int AS n FROM "${schema}"."_prisma_migrations"`);
  assert.equal(rows[0].n, results[0].applied.length + results[0].skipped.length);
});

test('an edited applied migration is refused; a new one is applied; a failing one rolls back', async () => {
  const schema = freshSchema();
  const dir = scratch();
  cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  await migrate({ databaseUrl, schema, migrationsDir: dir });
  mkdirSync(join(dir, '29990101000000_add_note'));
  writeFileSync(join(dir, '29990101000000_add_note', 'migration.sql'), 'ALTER TABLE "jobs" ADD COLUMN "note" TEXT;');
  assert.deepEqual((await migrate({ databaseUrl, schema, migrationsDir: dir })).applied, ['29990101000000_add_note']);

  writeFileSync(join(dir, '29990101000000_add_note', 'migration.sql'), 'ALTER TABLE "jobs" ADD COLUMN "note2" TEXT;');
  await assert.rejects(migrate({ databaseUrl, schema, migrationsDir: dir }), (e: unknown) => e instanceof MigrationError && /29990101000000_add_note was edited after it was applied/.test(e.message));
  rmSync(join(dir, '29990101000000_add_note'), { recursive: true });

  mkdirSync(join(dir, '29990102000000_broken'));
  writeFileSync(join(dir, '29990102000000_broken', 'migration.sql'), 'CREATE TABLE "half" (id int); SELECT * FROM "no_such_table";');
  await assert.rejects(migrate({ databaseUrl, schema, migrationsDir: dir }), /29990102000000_broken failed/);
  const half = await query('SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2', [schema, 'half']);
  assert.equal(half.length, 0, 'a failed migration leaves nothing behind');
  const recorded = await query(`SELECT migration_name FROM "${schema}"."_prisma_migrations" WHERE migration_name LIKE '2999%'`);
  assert.deepEqual(recorded.map((r) => r.migration_name), ['29990101000000_add_note']);
});

test('sample_sets migration: preview grids stored in the old samples table become finished preview sample sets', async () => {
  const schema = freshSchema();
  const dir = scratch();
  for (const name of ['20261125000000_init', '20261126000000_job_preparation']) cpSync(join(MIGRATIONS_DIR, name), join(dir, name), { recursive: true });
  await migrate({ databaseUrl, schema, migrationsDir: dir });
  await query(`INSERT INTO "${schema}".jobs (id, tenant_id, model_id, dataset_id, method, hyperparameters, state, total_steps) VALUES ('job_1', 'ten_1', 'tiny-sd', 'ds_1', 'npo', '{}', 'succeeded', 4)`);
  await query(`INSERT INTO "${schema}".samples (id, job_id, s3_key, kind) VALUES ('smp_1', 'job_1', 'jobs/job_1/samples/grid.png', 'grid')`);
  const res = await migrate({ databaseUrl, schema, migrationsDir: MIGRATIONS_DIR });
  assert.ok(res.applied.includes('20261206020000_sample_sets'));
  const rows = await query(`SELECT id, tenant_id, job_id, model_id, kind, status, s3_prefix, result FROM "${schema}".sample_sets`);
  assert.deepEqual(rows, [{ id: 'smp_1', tenant_id: 'ten_1', job_id: 'job_1', model_id: 'tiny-sd', kind: 'preview', status: 'succeeded', s3_prefix: 'jobs/job_1/samples', result: { grid: 'grid.png', images: [] } }]);
});

test('job_usage_totals migration: each job with usage rows gets their totals on its row, a job without any gets none', async () => {
  const schema = freshSchema();
  const dir = scratch();
  for (const name of listMigrations(MIGRATIONS_DIR).map((m) => m.name).filter((n) => n < '20261208000000')) cpSync(join(MIGRATIONS_DIR, name), join(dir, name), { recursive: true });
  await migrate({ databaseUrl, schema, migrationsDir: dir });
  for (const id of ['job_1', 'job_2']) await query(`INSERT INTO "${schema}".jobs (id, tenant_id, model_id, dataset_id, method, hyperparameters, state, total_steps) VALUES ($1, 'ten_1', 'tiny-sd', 'ds_1', 'npo', '{}', 'succeeded', 4)`, [id]);
  const rows: UsageRow[] = [
    { phase: 'preparing', device_kind: 'cpu', device_count: 1, seconds: 10, peak_rss_mb: 500, cost: 0.5, currency: 'USD' },
    { phase: 'training', device_kind: 'cpu', device_count: 1, seconds: 60, peak_rss_mb: 900, cost: 3, currency: 'USD' },
    { phase: 'training', device_kind: 'cuda', device_count: 2, seconds: 30, peak_rss_mb: 700, cost: 4, currency: 'EUR' },
    { phase: 'sampling', device_kind: 'cuda', device_count: 2, seconds: 4, peak_rss_mb: 800, cost: 0.25, currency: 'EUR' },
  ];
  for (const r of rows) {
    await query(`INSERT INTO "${schema}".usage_records (tenant_id, job_id, phase, device_kind, device_count, seconds, peak_rss_mb, cost, currency, started_at, ended_at) VALUES ('ten_1', 'job_1', $1, $2, $3, $4, $5, $6, $7, now(), now())`,
      [r.phase, r.device_kind, r.device_count, r.seconds, r.peak_rss_mb, r.cost, r.currency]);
  }
  await query(`INSERT INTO "${schema}".usage_records (tenant_id, phase, device_kind, device_count, seconds, peak_rss_mb, cost, currency, started_at, ended_at) VALUES ('ten_1', 'sampling', 'cpu', 1, 99, 1, 1, 'USD', now(), now())`);
  assert.ok((await migrate({ databaseUrl, schema, migrationsDir: MIGRATIONS_DIR })).applied.includes('20261208000000_job_usage_totals'));
  const jobs = await query(`SELECT id, usage, usage_rows FROM "${schema}".jobs ORDER BY id`);
  const byKind = (u: UsageSummary) => ({ ...u, devices: [...u.devices].sort((a, b) => a.kind.localeCompare(b.kind)), cost: [...u.cost].sort((a, b) => a.currency.localeCompare(b.currency)) });
  assert.deepEqual([jobs[0].usage_rows, byKind(jobUsage(jobs[0]))], [rows.length, byKind(summarize(rows))]);
  assert.deepEqual([jobs[1].usage_rows, jobs[1].usage], [0, {}]);
});
