-- Fencing and crash accounting for training runs (apps/worker/src/job-record.ts).
-- run_token: bumped by every run that claims the job; every write of a run is conditional on it, so a newer
--   run (a lost BullMQ lock, a re-queue) invalidates an older one's writes.
-- attempt_open: set when a run claims the job, cleared when it ends; still set at the next claim means the
--   previous run's process died (out of memory, native crash, kill -9).
-- crash_count: such deaths in a row without a new checkpoint; activity: what the run was doing (the resource).
ALTER TABLE "jobs" ADD COLUMN "run_token" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "jobs" ADD COLUMN "attempt_open" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "jobs" ADD COLUMN "crash_count" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "jobs" ADD COLUMN "activity" TEXT;
