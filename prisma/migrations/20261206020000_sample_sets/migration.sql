-- Sample sets: every set of images the service renders (a user's sampling request, a job's preview grid, the
-- validation grid of a checkpoint) is one row with a status; its PNGs and labelled grid live under `s3_prefix`.
CREATE TABLE "sample_sets" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "job_id" TEXT,
    "model_id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "checkpoint_step" INTEGER,
    "status" TEXT NOT NULL,
    "request" JSONB NOT NULL DEFAULT '{}',
    "s3_prefix" TEXT NOT NULL,
    "result" JSONB,
    "error_code" TEXT,
    "error_message" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "sample_sets_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "sample_sets_tenant_id_id_idx" ON "sample_sets"("tenant_id", "id");
CREATE INDEX "sample_sets_job_id_id_idx" ON "sample_sets"("job_id", "id");

-- The preview grids stored so far become finished sample sets of kind `preview`.
INSERT INTO "sample_sets" ("id", "tenant_id", "job_id", "model_id", "kind", "status", "s3_prefix", "result", "created_at", "finished_at", "updated_at")
SELECT s."id", j."tenant_id", s."job_id", j."model_id", 'preview', 'succeeded',
       regexp_replace(s."s3_key", '/[^/]*$', ''),
       jsonb_build_object('grid', regexp_replace(s."s3_key", '^.*/', ''), 'images', '[]'::jsonb),
       s."created_at", s."created_at", s."created_at"
FROM "samples" s JOIN "jobs" j ON j."id" = s."job_id";
DROP TABLE "samples";

-- A job's validation prompts (null: none), sampled at its checkpoints.
ALTER TABLE "jobs" ADD COLUMN "validation" JSONB;
