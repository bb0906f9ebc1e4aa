-- Device time per phase segment, priced when written (cost accounting).
CREATE TABLE "usage_records" (
    "id" BIGSERIAL NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "job_id" TEXT,
    "sample_set_id" TEXT,
    "phase" TEXT NOT NULL,
    "device_kind" TEXT NOT NULL,
    "device_count" INTEGER NOT NULL,
    "seconds" DOUBLE PRECISION NOT NULL,
    "peak_rss_mb" DOUBLE PRECISION NOT NULL,
    "cost" DOUBLE PRECISION NOT NULL,
    "currency" TEXT NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "ended_at" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "usage_records_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "usage_records_tenant_id_ended_at_idx" ON "usage_records"("tenant_id", "ended_at");
CREATE INDEX "usage_records_job_id_idx" ON "usage_records"("job_id");
