import { join } from 'node:path';
import { JobErrorCodes, SampleErrorCodes, type ResolvedValidation } from '@npo/contracts';
import type { UsageMeter } from '@npo/platform';
import { PREVIEW_PROMPTS } from '@npo/trainer';
import type { WorkerDeps } from './deps.ts';
import { MAX_WORKER_CRASHES, type JobRecord } from './job-record.ts';
import { finishSampleSet, publishSampleSet, startWorkerSampleSet, type SampledJob } from './sample-sets.ts';

// A training job's end once its final checkpoint is stored: the preview grid, then `succeeded`. A run resumes here
// after a crash like it resumes training (train.ts sees the final checkpoint's row).

/** The activity of finalization: a crash here costs only the sample grid, so the job still succeeds without it. */
export const RENDERING = 'rendering the sample grid';

/**
 * The preview grid (once per job: a resumed finalization does not render or store it twice), then `succeeded`. A
 * preview set a dead run left `running` is ended `failed` first. `adapter` is null when the grid is given up (the
 * worker died rendering it too often).
 */
export async function finalize(
  deps: WorkerDeps, rec: JobRecord, row: SampledJob, meter: UsageMeter,
  o: { modelDir: string; adapter: string | null; step: number; work: string; finalKey: string | null; signal: AbortSignal },
) {
  const rendered = await deps.db.sampleSet.findFirst({ where: { job_id: rec.jobId, kind: 'preview', status: 'succeeded' }, select: { id: true } });
  await deps.db.sampleSet.updateMany({
    where: { job_id: rec.jobId, kind: 'preview', status: 'running' },
    data: { status: 'failed', finished_at: new Date(), error_code: JobErrorCodes.workerCrashed, error_message: 'the worker rendering it died' },
  });
  if (!rendered && o.adapter) {
    await rec.activity(`${RENDERING} with model ${row.model_id}`);
    await meter.enter('sampling');
    await renderPreview(deps, rec, row, o.modelDir, o.adapter, o.work, o.signal);
  } else if (!rendered) await rec.event('sample_failed', { kind: 'preview', message: `the worker died ${MAX_WORKER_CRASHES} times rendering the sample grid; the job's adapter is complete, so it succeeds without one` });
  if (await rec.finish('succeeded', { step: o.step, ...(o.finalKey ? { final_adapter_key: o.finalKey } : {}) })) return { state: 'succeeded' };
  // a cancel that came in after the last step still wins: the job ends `cancelled`, its checkpoints kept
  if ((await rec.state()) === 'cancelling' && (await rec.finish('cancelled'))) return { state: 'cancelled' };
  return { state: await rec.state() };
}

/**
 * The job's preview grid as a sample set of kind `preview`; a failure here is reported as an event and does not fail the
 * job. A cancel stops the render (the set ends `cancelled`), and finalize then ends the job `cancelled`.
 */
async function renderPreview(deps: WorkerDeps, rec: JobRecord, job: SampledJob, modelDir: string, adapterPath: string, work: string, signal: AbortSignal) {
  const validation = job.validation as ResolvedValidation | null;
  const prompts = validation?.prompts ?? PREVIEW_PROMPTS;
  const set = await startWorkerSampleSet(deps, job, 'preview', null, { prompts, method: job.method });
  try {
    const outDir = join(work, 'samples', set.id);
    const rendered = await deps.trainer.renderSampleGrid({
      modelDir, adapterPath, method: job.method as 'npo' | 'dpo', prompts, seeds: validation?.seeds, guidance: validation?.guidance,
      outDir, workDir: join(work, 'samples', 'graphs'), signal,
    });
    await publishSampleSet(deps, set, prompts, outDir, rendered);
    await rec.event('sample', { kind: 'preview', sample: set.id });
  } catch (err) {
    await finishSampleSet(deps, set, signal.aborted ? 'cancelled' : 'failed', { code: SampleErrorCodes.samplingFailed, message: (err as Error).message });
    if (!signal.aborted) await rec.event('sample_failed', { kind: 'preview', message: (err as Error).message });
  }
}
