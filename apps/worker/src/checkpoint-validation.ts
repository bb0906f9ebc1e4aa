import { basename, join } from 'node:path';
import { rm } from 'node:fs/promises';
import { ADAPTER_FILES, SampleErrorCodes, roleOfMethod, type ResolvedValidation } from '@npo/contracts';
import type { UsageMeter } from '@npo/platform';
import type { WorkerDeps } from './deps.ts';
import type { CheckpointWritten } from './trainer-api.ts';
import type { JobRecord } from './job-record.ts';
import { finishSampleSet, publishSampleSet, startWorkerSampleSet, type SampledJob } from './sample-sets.ts';

/**
 * The validation prompts of a checkpoint: base vs the checkpoint's adapter (in its method's role) on the same noise,
 * stored as a sample set of kind `validation` with the checkpoint's step, and the rewards of both arms when the
 * model's world has one. Failures are events; they never fail the job. Only the sampling itself is metered as
 * `sampling`: a checkpoint without validation stays in `training`.
 */
export async function validateCheckpoint(
  deps: WorkerDeps, rec: JobRecord, job: SampledJob, meter: UsageMeter, modelDir: string, c: CheckpointWritten, work: string, signal: AbortSignal,
) {
  const v = job.validation as ResolvedValidation | null;
  if (!v || (!c.final && c.step % v.every !== 0)) return;
  const done = await deps.db.sampleSet.findFirst({ where: { job_id: job.id, kind: 'validation', checkpoint_step: c.step, status: 'succeeded' }, select: { id: true } });
  if (done) return; // a resumed job replays no finished validation
  const adapterPath = c.files.find((f) => basename(f) === ADAPTER_FILES.peft);
  if (!adapterPath) return;
  // metered from the set's creation to its end (published, failed or cancelled), then back to training
  await meter.during('sampling', async () => {
    const set = await startWorkerSampleSet(deps, job, 'validation', c.step, { prompts: v.prompts, seeds: v.seeds, guidance: [v.guidance], steps: v.steps, method: job.method });
    const outDir = join(work, 'validation', `step-${c.step}`);
    try {
      const role = roleOfMethod(job.method as 'npo' | 'dpo');
      const rendered = await deps.trainer.renderSamples({
        modelDir, prompts: v.prompts, seeds: v.seeds, guidance: [v.guidance], steps: v.steps, adapters: { [role]: adapterPath },
        title: `validation at step ${c.step}: plain CFG vs ${job.method.toUpperCase()}`, adaptedLabel: `${job.method.toUpperCase()} step ${c.step}`,
        outDir, workDir: join(work, 'validation', 'graphs'), signal,
      });
      const { result } = await publishSampleSet(deps, set, v.prompts, outDir, rendered);
      await rec.event('validation', { step: c.step, sample: set.id, rewards: result.rewards ?? null });
    } catch (err) {
      await finishSampleSet(deps, set, signal.aborted ? 'cancelled' : 'failed', { code: SampleErrorCodes.samplingFailed, message: (err as Error).message });
      if (!signal.aborted) await rec.event('validation_failed', { step: c.step, message: (err as Error).message });
    } finally {
      await rm(outDir, { recursive: true, force: true }).catch(() => {});
    }
  });
}
