import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { InputError, JobErrorCodes, SampleErrorCodes, SAMPLE_TERMINAL, isRetryable, type AdapterRole, type SamplePayload, type SampleRequestRecord, type SampleStatus } from '@npo/contracts';
import { UnrecoverableError, type QueueJob } from '@npo/platform';
import type { WorkerDeps } from '../deps.ts';
import type { CancelRegistry } from '../cancellation.ts';
import type { SamplerName } from '../trainer-api.ts';
import { localModelDir } from '../model-cache.ts';
import { finishSampleSet, publishSampleSet } from '../sample-sets.ts';
import { usageMeter } from '../usage.ts';

/**
 * One sampling request: the model (and the requested checkpoints' adapters) onto this disk, base and adapted
 * images on the same noise, PNGs and the labelled grid to S3, the result on the row. Cancellable between denoising
 * steps; a failed or cancelled set keeps no files.
 */
export async function sampleJob(deps: WorkerDeps & { cancels: CancelRegistry }, job: QueueJob<SamplePayload>) {
  const { sampleId } = job.data;
  const row = await deps.db.sampleSet.findUnique({ where: { id: sampleId } });
  if (!row) throw new UnrecoverableError(`sample set ${sampleId} no longer exists`);
  if (SAMPLE_TERMINAL.includes(row.status as SampleStatus)) return { status: row.status };
  if (row.status === 'cancelling') {
    await finishSampleSet(deps, row, 'cancelled');
    return { status: 'cancelled' };
  }
  const controller = deps.cancels.register(sampleId);
  const work = join(deps.config.dataDir, 'work', 'samples', sampleId);
  const meter = usageMeter(deps, { tenantId: row.tenant_id, jobId: row.job_id ?? undefined, sampleSetId: sampleId });
  try {
    const started = await deps.db.sampleSet.updateMany({
      where: { id: sampleId, status: { in: ['queued', 'running'] } },
      data: { status: 'running', started_at: row.started_at ?? new Date(), attempts: { increment: 1 } },
    });
    if (started.count === 0) controller.abort(); // cancelled between the read and here
    await meter.enter('sampling');
    const model = await deps.db.model.findUnique({ where: { id: row.model_id } });
    if (!model || model.status !== 'ready') throw new InputError(`model ${row.model_id} is missing or not ready`, { model: row.model_id }, JobErrorCodes.modelInvalid, 409);
    const filesSha256 = (model.info as { files_sha256?: string } | null)?.files_sha256;
    const modelDir = await localModelDir(deps.storage, deps.config.dataDir, model.id, model.s3_prefix, filesSha256);
    const req = row.request as unknown as SampleRequestRecord;
    const adapters: Partial<Record<AdapterRole, string>> = {};
    for (const a of req.adapters) {
      adapters[a.role] = join(work, 'adapters', `${a.role}.safetensors`);
      await deps.storage.downloadFile(a.key, adapters[a.role]!);
    }
    controller.signal.throwIfAborted();
    const outDir = join(work, 'out');
    const rendered = await deps.trainer.renderSamples({
      modelDir, prompts: req.prompts, negativePrompt: req.negative_prompt, seeds: req.seeds, guidance: req.guidance, steps: req.steps,
      sampler: req.sampler as SamplerName, adapters,
      title: `${model.id}: ${req.sampler}, ${req.steps} steps${req.negative_prompt ? `, negative "${req.negative_prompt}"` : ''}`,
      adaptedLabel: req.adapters.map((a) => `${a.role === 'positive' ? '+' : '−'}${a.job.slice(-6)}@${a.checkpoint}`).join(' '),
      outDir, workDir: join(work, 'graphs'), signal: controller.signal,
    });
    const { published } = await publishSampleSet(deps, row, req.prompts, outDir, rendered);
    if (!published) await finishSampleSet(deps, row, 'cancelled');
    return { status: published ? 'succeeded' : 'cancelled' };
  } catch (err) {
    if (controller.signal.aborted) {
      await finishSampleSet(deps, row, 'cancelled');
      return { status: 'cancelled' };
    }
    // input that a retry cannot fix (the error hierarchy says which: an unusable model or adapter file): fail at once
    const code = (err as { code?: string }).code;
    if (err instanceof UnrecoverableError || !isRetryable(err)) {
      await finishSampleSet(deps, row, 'failed', { code: code ?? JobErrorCodes.badInput, message: (err as Error).message });
      throw err instanceof UnrecoverableError ? err : new UnrecoverableError((err as Error).message);
    }
    // transient (S3, Redis, Postgres): BullMQ retries with backoff; the last attempt marks the set failed
    if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) await finishSampleSet(deps, row, 'failed', { code: SampleErrorCodes.samplingFailed, message: (err as Error).message });
    throw err;
  } finally {
    await meter.stop();
    deps.cancels.release(sampleId);
    await rm(work, { recursive: true, force: true }).catch(() => {});
  }
}
