import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { Prisma } from '@npo/platform';
import { S3Keys, newId, type SampleResultRecord } from '@npo/contracts';
import type { WorkerDeps } from './deps.ts';
import type { RenderedSamples } from './trainer-api.ts';
import { scoreSamples } from './rewards.ts';

// The worker's writes to sample sets: files to S3 first, the result row last (a set without a result has no files
// that anyone can see), and a set cancelled meanwhile leaves nothing behind.

/**
 * Uploads the grid and every image from `outDir`, scores them when the model's world has a reward, and marks the
 * set succeeded — unless it stopped running meanwhile (cancelled): then its files are deleted and false returned.
 */
export async function publishSampleSet(
  deps: WorkerDeps, set: { id: string; s3_prefix: string; model_id: string }, prompts: string[], outDir: string, rendered: RenderedSamples,
): Promise<{ published: boolean; result: SampleResultRecord }> {
  for (const name of [rendered.grid, ...rendered.images.map((i) => i.name)]) {
    await deps.storage.uploadStream(S3Keys.sampleFile(set.s3_prefix, name), createReadStream(join(outDir, name)), 'image/png');
  }
  const scores = scoreSamples(set.model_id, prompts, rendered.images);
  const result: SampleResultRecord = {
    grid: rendered.grid,
    images: rendered.images.map(({ name, prompt, seed, guidance, arm }, i) => ({ name, prompt, seed, guidance, arm, ...(scores?.perImage[i] != null ? { reward: scores.perImage[i]! } : {}) })),
    rewards: scores?.summary ?? null,
  };
  const done = await deps.db.sampleSet.updateMany({
    where: { id: set.id, status: 'running' },
    data: { status: 'succeeded', result: result as unknown as Prisma.InputJsonValue, finished_at: new Date() },
  });
  if (done.count === 1) return { published: true, result };
  await deps.storage.deletePrefix(`${set.s3_prefix}/`);
  return { published: false, result };
}

/** Ends a set that is not finished yet; a failed or cancelled set keeps no files. */
export async function finishSampleSet(deps: WorkerDeps, set: { id: string; s3_prefix: string }, status: 'failed' | 'cancelled', error?: { code: string; message: string }) {
  await deps.storage.deletePrefix(`${set.s3_prefix}/`).catch(() => {});
  await deps.db.sampleSet.updateMany({
    where: { id: set.id, status: { notIn: ['succeeded', 'failed', 'cancelled'] } },
    data: { status, finished_at: new Date(), ...(error ? { error_code: error.code, error_message: error.message } : {}) },
  });
}

/** What a job's own sample sets need of its row. */
export type SampledJob = { id: string; tenant_id: string; model_id: string; method: string; validation: unknown };

/** A sample set the worker makes itself (preview, validation): running from the start, never queued. */
export function startWorkerSampleSet(deps: WorkerDeps, job: SampledJob, kind: 'preview' | 'validation', step: number | null, request: Record<string, unknown>) {
  const id = newId('smp');
  return deps.db.sampleSet.create({
    data: {
      id, tenant_id: job.tenant_id, job_id: job.id, model_id: job.model_id, kind, checkpoint_step: step, status: 'running',
      request: request as Prisma.InputJsonValue, s3_prefix: S3Keys.jobSampleSet(job.id, id), started_at: new Date(),
    },
  });
}
