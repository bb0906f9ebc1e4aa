-- Progress of the preparing phase (pairs encoded so far, total, percent, ETA), written by the worker.
ALTER TABLE "jobs" ADD COLUMN "preparation" JSONB;
