-- Each step's peak resident set of the training process so far in its run, MiB (packages/trainer/src/peak-rss.ts).
-- Nullable: steps stored before it existed have none.
ALTER TABLE "job_metrics" ADD COLUMN "peak_rss_mb" DOUBLE PRECISION;
