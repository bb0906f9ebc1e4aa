-- A job's usage as running totals on its row (UsageTotals in packages/platform/src/usage/summary.ts), kept by the
-- writer of each usage row in the same transaction, so reading a job no longer sums its usage rows. `usage_rows`
-- counts the rows folded in (its bump is the lock writers queue on).
ALTER TABLE "jobs" ADD COLUMN "usage" JSONB NOT NULL DEFAULT '{}';
ALTER TABLE "jobs" ADD COLUMN "usage_rows" INTEGER NOT NULL DEFAULT 0;

-- Jobs that already have usage rows: their totals, summed as addUsage sums them.
WITH
  per_phase AS (
    SELECT job_id, jsonb_object_agg(phase, device_seconds) AS device_seconds
    FROM (SELECT job_id, phase, sum(seconds * device_count) AS device_seconds FROM "usage_records" WHERE job_id IS NOT NULL GROUP BY job_id, phase) p
    GROUP BY job_id),
  per_device AS (
    SELECT job_id, jsonb_agg(jsonb_build_object('kind', device_kind, 'count', device_count, 'seconds', seconds)) AS devices
    FROM (SELECT job_id, device_kind, device_count, sum(seconds) AS seconds FROM "usage_records" WHERE job_id IS NOT NULL GROUP BY job_id, device_kind, device_count) d
    GROUP BY job_id),
  per_currency AS (
    SELECT job_id, jsonb_object_agg(currency, amount) AS cost
    FROM (SELECT job_id, currency, sum(cost) AS amount FROM "usage_records" WHERE job_id IS NOT NULL GROUP BY job_id, currency) c
    GROUP BY job_id),
  per_job AS (
    SELECT job_id, count(*) AS n, max(peak_rss_mb) AS peak_rss_mb FROM "usage_records" WHERE job_id IS NOT NULL GROUP BY job_id)
UPDATE "jobs" j
SET "usage" = jsonb_build_object('device_seconds', p.device_seconds, 'devices', d.devices, 'peak_rss_mb', t.peak_rss_mb, 'cost', c.cost),
    "usage_rows" = t.n
FROM per_job t
JOIN per_phase p USING (job_id)
JOIN per_device d USING (job_id)
JOIN per_currency c USING (job_id)
WHERE j.id = t.job_id;
