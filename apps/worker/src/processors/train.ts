import { basename, join } from 'node:path';
import { rm } from 'node:fs/promises';
import { ADAPTER_FILES, JobErrorCodes, S3Keys, TERMINAL_STATES, isRetryable, newId, roleOfMethod, storedHyperparameters, type JobState, type ResolvedValidation } from '@npo/contracts';
import { Prisma, UnrecoverableError, WaitingError, type QueueJob } from '@npo/platform';
import type { TrainPayload } from '@npo/contracts';
import type { WorkerDeps } from '../deps.ts';
import type { CancelRegistry } from '../cancellation.ts';
import type { CheckpointWritten } from '../trainer-api.ts';
import { JobRecord } from '../job-record.ts';
import { localModelDir } from '../model-cache.ts';
import { fetchPrepared, isPublished, preparedCacheKey, publishPrepared, type PreparedSource } from '../prepared-cache.ts';
import { PreparationProgress } from '../preparation-progress.ts';
import { usageMeter } from '../usage.ts';
import { finishSampleSet, publishSampleSet } from '../sample-sets.ts';
import { PREVIEW_PROMPTS } from '@npo/trainer';



/**
 * One training job: prepare data, train with checkpoints, render samples. Re-entrant: after a crash (BullMQ
 * stalled-job recovery) it runs again and resumes from the latest checkpoint that has a row in Postgres.
 */
export async function trainJob(deps: WorkerDeps & { cancels: CancelRegistry }, job: QueueJob<TrainPayload>, token?: string) {
  const { jobId } = job.data;
  const rec = new JobRecord(deps, jobId);
  const row = await deps.db.job.findUnique({ where: { id: jobId } });
  if (!row) throw new UnrecoverableError(`job ${jobId} no longer exists`);
  if (TERMINAL_STATES.includes(row.state as JobState)) return { state: row.state };
  if (row.state === 'cancelling') {
    await rec.finish('cancelled');
    return { state: 'cancelled' };
  }
  const { trainer } = deps;
  const controller = deps.cancels.register(jobId);
  const signal = controller.signal;
  const shutdown = deps.shutdown ?? new AbortController().signal;
  // Back to the queue, for another worker to resume from the checkpoint just written: the lock goes with it.
  const release = async (step: number | null) => {
    await rec.event('released', { step, reason: 'worker shutdown' });
    await job.moveToWait(token);
    throw new WaitingError();
  };
  const work = join(deps.config.dataDir, 'work', 'jobs', jobId);
  const meter = usageMeter(deps, { tenantId: row.tenant_id, jobId });
  try {
    if (shutdown.aborted) await release(null);
    await deps.db.job.update({ where: { id: jobId }, data: { attempts: { increment: 1 }, started_at: row.started_at ?? new Date() } });
    if ((await rec.advance('preparing')) === 'cancelling') controller.abort();
    await meter.enter('preparing');
    const model = await deps.db.model.findUnique({ where: { id: row.model_id } });
    const dataset = await deps.db.dataset.findUnique({ where: { id: row.dataset_id } });
    if (!model || model.status !== 'ready') return await failBadInput(rec, JobErrorCodes.modelInvalid, `model ${row.model_id} is missing or not ready`);
    if (!dataset || dataset.status !== 'ready') return await failBadInput(rec, JobErrorCodes.datasetInvalid, `dataset ${row.dataset_id} is missing or not ready`);
    const hp = storedHyperparameters(row.hyperparameters);

    const modelFilesSha256 = (model.info as { files_sha256?: string } | null)?.files_sha256;
    const modelDir = await localModelDir(deps.storage, deps.config.dataDir, model.id, model.s3_prefix, modelFilesSha256);
    const prepared = await obtainPreparedShards(deps, rec, { datasetId: dataset.id, datasetKey: dataset.s3_key, datasetFormat: dataset.format, pairsTotal: (dataset.report as { pairs_kept?: number } | null)?.pairs_kept, modelId: model.id, modelFilesSha256, modelDir, resolution: hp.resolution, work, signal: AbortSignal.any([signal, shutdown]) });
    if (shutdown.aborted && !signal.aborted) await release(null);

    // resume from the newest checkpoint that exists (has a row): its files were uploaded before the row
    const latest = await deps.db.checkpoint.findFirst({ where: { job_id: jobId }, orderBy: { step: 'desc' } });
    let resumeFromDir: string | undefined;
    if (latest) {
      resumeFromDir = join(work, 'resume', `step-${latest.step}`);
      await rm(resumeFromDir, { recursive: true, force: true });
      await deps.storage.downloadPrefix(latest.s3_prefix, resumeFromDir);
      await rec.event('resumed', { from_step: latest.step });
    }

    const onCheckpoint = async (c: CheckpointWritten) => {
      const prefix = S3Keys.checkpoint(jobId, c.step);
      const names: string[] = [];
      for (const file of c.files) {
        await deps.storage.uploadFile(`${prefix}/${basename(file)}`, file);
        names.push(basename(file));
      }
      // the row is written last: a checkpoint without a row does not exist
      await deps.db.checkpoint.upsert({
        where: { job_id_step: { job_id: jobId, step: c.step } },
        create: { job_id: jobId, step: c.step, s3_prefix: prefix, files: names, final: c.final },
        update: { s3_prefix: prefix, files: names, final: c.final },
      });
      if (c.final) await deps.db.job.update({ where: { id: jobId }, data: { final_adapter_key: S3Keys.checkpointAdapter(prefix) } });
      await rec.event('checkpoint', { step: c.step, final: c.final, files: names });
      await meter.enter('sampling');
      await validateCheckpoint(deps, rec, row, modelDir, c, work, signal);
      if (!c.final) await meter.enter('training');
    };

    const result = await trainer.trainAdapter({
      modelDir, preparedDir: prepared.preparedDir, method: row.method as 'npo' | 'dpo', hyperparameters: hp,
      workDir: join(work, 'train'), resumeFromDir, signal, suspend: shutdown, memoryBudgetMb: deps.config.memoryBudgetMb,
      onPhase: async (p) => {
        if ((await rec.advance(p, p === 'training' ? { training_started_at: new Date() } : {})) === 'cancelling') controller.abort();
        await meter.enter(p);
      },
      onStep: async (m) => {
        if ((await rec.step(m)) === 'cancelling') controller.abort();
      },
      onCheckpoint,
    });

    if (result.suspended) await release(result.steps);
    if (result.cancelled || signal.aborted) {
      await rec.finish('cancelled');
      return { state: 'cancelled' };
    }
    await meter.enter('sampling');
    await renderPreview(deps, rec, row, modelDir, result.finalAdapter, work);
    const finalCp = await deps.db.checkpoint.findFirst({ where: { job_id: jobId, final: true }, orderBy: { step: 'desc' } });
    await rec.finish('succeeded', { step: result.steps, ...(finalCp ? { final_adapter_key: S3Keys.checkpointAdapter(finalCp.s3_prefix) } : {}) });
    return { state: 'succeeded' };
  } catch (err) {
    if (err instanceof WaitingError) throw err;
    if (shutdown.aborted && !signal.aborted) await release(null);
    if (signal.aborted) {
      await rec.finish('cancelled');
      return { state: 'cancelled' };
    }
    // input that a retry cannot fix (the error hierarchy says which): fail at once
    const code = (err as { code?: string }).code;
    if (err instanceof UnrecoverableError || !isRetryable(err)) {
      await rec.finish('failed', { error_code: code ?? JobErrorCodes.badInput, error_message: (err as Error).message });
      throw err instanceof UnrecoverableError ? err : new UnrecoverableError((err as Error).message);
    }
    // transient (S3, Redis, Postgres blips): BullMQ retries with backoff and we resume from the last checkpoint
    const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    if (last) await rec.finish('failed', { error_code: JobErrorCodes.trainingFailed, error_message: (err as Error).message });
    else await rec.event('retry', { attempt: job.attemptsMade + 1, message: (err as Error).message });
    throw err;
  } finally {
    await meter.stop();
    deps.cancels.release(jobId);
    await rm(join(work, 'resume'), { recursive: true, force: true }).catch(() => {});
  }
}

/**
 * The prepared shards for (dataset, model, resolution): this disk's copy, another worker's from S3, or encoded here
 * (then published to S3 for the others; a failed upload costs only the reuse, so it does not fail the job).
 * Encoding reports pairs done, percent and ETA on the job row at most once a second.
 */
async function obtainPreparedShards(
  deps: WorkerDeps, rec: JobRecord,
  o: { datasetId: string; datasetKey: string; datasetFormat: string; pairsTotal?: number; modelId: string; modelFilesSha256?: string; modelDir: string; resolution: number; work: string; signal: AbortSignal },
): Promise<{ preparedDir: string }> {
  const key = preparedCacheKey({ datasetId: o.datasetId, modelId: o.modelId, modelFilesSha256: o.modelFilesSha256, resolution: o.resolution });
  const preparedDir = join(deps.config.dataDir, 'cache', 'prepared', key);
  const done = async (pairs: number, source: 'encoded' | PreparedSource) => {
    await rec.preparation({ pairs_done: pairs, pairs_total: pairs, percent: 100, eta_seconds: 0, source });
    await rec.event('prepared', { pairs, source });
  };
  const publish = () => publishPrepared(deps.storage, key, preparedDir).catch((err) => rec.event('prepared_upload_failed', { message: (err as Error).message }));
  const found = await fetchPrepared(deps.storage, key, preparedDir);
  if (found) {
    await done(found.manifest.total_pairs, found.source);
    // an earlier upload from this disk may have failed: the others should still get it
    if (found.source === 'local' && !(await isPublished(deps.storage, key).catch(() => true))) await publish();
    return { preparedDir };
  }
  const datasetFile = join(o.work, 'dataset', `data.${o.datasetFormat}`);
  await deps.storage.downloadFile(o.datasetKey, datasetFile);
  const progress = new PreparationProgress(rec, o.pairsTotal);
  const prepared = await deps.trainer.encodeDatasetForModel({
    modelDir: o.modelDir, datasetFile, resolution: o.resolution, outDir: preparedDir, workDir: join(o.work, 'prepare'), signal: o.signal,
    pairsTotal: o.pairsTotal, onProgress: (p) => progress.report(p.pairs_done, p.pairs_total),
  });
  await progress.flushed();
  await done(prepared.pairs, 'encoded');
  await publish();
  return { preparedDir };
}

async function failBadInput(rec: JobRecord, code: string, message: string): Promise<never> {
  await rec.finish('failed', { error_code: code, error_message: message });
  throw new UnrecoverableError(message);
}

/** The job's preview grid as a sample set of kind `preview`; a failure here is reported as an event and does not fail the job. */
async function renderPreview(deps: WorkerDeps, rec: JobRecord, job: JobRow, modelDir: string, adapterPath: string | null, work: string) {
  if (!adapterPath) return;
  const validation = job.validation as ResolvedValidation | null;
  const prompts = validation?.prompts ?? PREVIEW_PROMPTS;
  const set = await startWorkerSampleSet(deps, job, 'preview', null, { prompts, method: job.method });
  try {
    const outDir = join(work, 'samples', set.id);
    const rendered = await deps.trainer.renderSampleGrid({
      modelDir, adapterPath, method: job.method as 'npo' | 'dpo', prompts, seeds: validation?.seeds, guidance: validation?.guidance,
      outDir, workDir: join(work, 'samples', 'graphs'),
    });
    await publishSampleSet(deps, set, prompts, outDir, rendered);
    await rec.event('sample', { kind: 'preview', sample: set.id });
  } catch (err) {
    await finishSampleSet(deps, set, 'failed', { code: 'sampling_failed', message: (err as Error).message });
    await rec.event('sample_failed', { kind: 'preview', message: (err as Error).message });
  }
}

/**
 * The validation prompts of a checkpoint: base vs the checkpoint's adapter (in its method's role) on the same noise,
 * stored as a sample set of kind `validation` with the checkpoint's step, and the rewards of both arms when the
 * model's world has one. Failures are events; they never fail the job.
 */
async function validateCheckpoint(deps: WorkerDeps, rec: JobRecord, job: JobRow, modelDir: string, c: CheckpointWritten, work: string, signal: AbortSignal) {
  const v = job.validation as ResolvedValidation | null;
  if (!v || (!c.final && c.step % v.every !== 0)) return;
  const done = await deps.db.sampleSet.findFirst({ where: { job_id: job.id, kind: 'validation', checkpoint_step: c.step, status: 'succeeded' }, select: { id: true } });
  if (done) return; // a resumed job replays no finished validation
  const adapterPath = c.files.find((f) => basename(f) === ADAPTER_FILES.peft);
  if (!adapterPath) return;
  const set = await startWorkerSampleSet(deps, job, 'validation', c.step, { prompts: v.prompts, seeds: v.seeds, guidance: [v.guidance], steps: v.steps, method: job.method });
  try {
    const outDir = join(work, 'validation', `step-${c.step}`);
    const role = roleOfMethod(job.method as 'npo' | 'dpo');
    const rendered = await deps.trainer.renderSamples({
      modelDir, prompts: v.prompts, seeds: v.seeds, guidance: [v.guidance], steps: v.steps, adapters: { [role]: adapterPath },
      title: `validation at step ${c.step}: plain CFG vs ${job.method.toUpperCase()}`, adaptedLabel: `${job.method.toUpperCase()} step ${c.step}`,
      outDir, workDir: join(work, 'validation', 'graphs'), signal,
    });
    const { result } = await publishSampleSet(deps, set, v.prompts, outDir, rendered);
    await rec.event('validation', { step: c.step, sample: set.id, rewards: result.rewards ?? null });
  } catch (err) {
    await finishSampleSet(deps, set, signal.aborted ? 'cancelled' : 'failed', { code: 'sampling_failed', message: (err as Error).message });
    if (!signal.aborted) await rec.event('validation_failed', { step: c.step, message: (err as Error).message });
  } finally {
    await rm(join(work, 'validation', `step-${c.step}`), { recursive: true, force: true }).catch(() => {});
  }
}

type JobRow = { id: string; tenant_id: string; model_id: string; method: string; validation: unknown };

/** A sample set the worker makes itself (preview, validation): running from the start, never queued. */
function startWorkerSampleSet(deps: WorkerDeps, job: JobRow, kind: 'preview' | 'validation', step: number | null, request: Record<string, unknown>) {
  const id = newId('smp');
  return deps.db.sampleSet.create({
    data: {
      id, tenant_id: job.tenant_id, job_id: job.id, model_id: job.model_id, kind, checkpoint_step: step, status: 'running',
      request: request as Prisma.InputJsonValue, s3_prefix: S3Keys.jobSampleSet(job.id, id), started_at: new Date(),
    },
  });
}
