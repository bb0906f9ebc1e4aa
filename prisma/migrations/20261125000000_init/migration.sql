-- NPO Forge initial schema (see prisma/schema.prisma).
CREATE TABLE "tenants" (
  "id" TEXT PRIMARY KEY,
  "name" TEXT NOT NULL UNIQUE,
  "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE "api_keys" (
  "id" TEXT PRIMARY KEY,
  "tenant_id" TEXT NOT NULL REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE,
  "key_hash" TEXT NOT NULL UNIQUE,
  "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "revoked_at" TIMESTAMPTZ(3)
);

CREATE TABLE "datasets" (
  "id" TEXT PRIMARY KEY,
  "tenant_id" TEXT NOT NULL,
  "name" TEXT NOT NULL,
  "format" TEXT NOT NULL,
  "status" TEXT NOT NULL,
  "s3_key" TEXT NOT NULL,
  "size_bytes" BIGINT NOT NULL DEFAULT 0,
  "report" JSONB,
  "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX "datasets_tenant_id_id_idx" ON "datasets"("tenant_id", "id");

CREATE TABLE "models" (
  "id" TEXT PRIMARY KEY,
  "tenant_id" TEXT,
  "name" TEXT NOT NULL,
  "source" TEXT NOT NULL,
  "s3_prefix" TEXT NOT NULL,
  "status" TEXT NOT NULL,
  "info" JSONB,
  "errors" JSONB,
  "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX "models_tenant_id_id_idx" ON "models"("tenant_id", "id");

CREATE TABLE "jobs" (
  "id" TEXT PRIMARY KEY,
  "tenant_id" TEXT NOT NULL,
  "model_id" TEXT NOT NULL,
  "dataset_id" TEXT NOT NULL,
  "method" TEXT NOT NULL,
  "hyperparameters" JSONB NOT NULL,
  "metadata" JSONB NOT NULL DEFAULT '{}',
  "state" TEXT NOT NULL,
  "idempotency_key" TEXT,
  "request_hash" TEXT,
  "step" INTEGER NOT NULL DEFAULT 0,
  "total_steps" INTEGER NOT NULL,
  "latest_metrics" JSONB,
  "error_code" TEXT,
  "error_message" TEXT,
  "final_adapter_key" TEXT,
  "attempts" INTEGER NOT NULL DEFAULT 0,
  "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "started_at" TIMESTAMPTZ(3),
  "training_started_at" TIMESTAMPTZ(3),
  "finished_at" TIMESTAMPTZ(3),
  "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX "jobs_tenant_id_idempotency_key_key" ON "jobs"("tenant_id", "idempotency_key");
CREATE INDEX "jobs_tenant_id_id_idx" ON "jobs"("tenant_id", "id");
CREATE INDEX "jobs_dataset_id_state_idx" ON "jobs"("dataset_id", "state");

CREATE TABLE "job_events" (
  "id" BIGSERIAL PRIMARY KEY,
  "job_id" TEXT NOT NULL,
  "type" TEXT NOT NULL,
  "data" JSONB NOT NULL DEFAULT '{}',
  "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX "job_events_job_id_id_idx" ON "job_events"("job_id", "id");

CREATE TABLE "job_metrics" (
  "job_id" TEXT NOT NULL,
  "step" INTEGER NOT NULL,
  "loss" DOUBLE PRECISION NOT NULL,
  "implicit_acc" DOUBLE PRECISION NOT NULL,
  "grad_norm" DOUBLE PRECISION NOT NULL,
  "lr" DOUBLE PRECISION NOT NULL,
  "step_ms" DOUBLE PRECISION NOT NULL,
  "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY ("job_id", "step")
);

CREATE TABLE "checkpoints" (
  "job_id" TEXT NOT NULL,
  "step" INTEGER NOT NULL,
  "s3_prefix" TEXT NOT NULL,
  "files" JSONB NOT NULL,
  "final" BOOLEAN NOT NULL DEFAULT false,
  "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY ("job_id", "step")
);

CREATE TABLE "samples" (
  "id" TEXT PRIMARY KEY,
  "job_id" TEXT NOT NULL,
  "s3_key" TEXT NOT NULL,
  "kind" TEXT NOT NULL,
  "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX "samples_job_id_idx" ON "samples"("job_id");
