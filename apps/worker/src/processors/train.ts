import { basename, join } from 'node:path';
import { rm } from 'node:fs/promises';
import { ADAPTER_FILE, JobErrorCodes, S3Keys, isRetryable, isTerminal, storedHyperparameters, type JobState } from '@npo/contracts';
import { UnrecoverableError, WaitingError, recordJobEvent, type QueueJob } from '@npo/platform';
import type { TrainPayload } from '@npo/contracts';
import type { WorkerDeps } from '../deps.ts';
import type { CancelRegistry } from '../cancellation.ts';
import type { CheckpointWritten } from '../trainer-api.ts';
import { JobRecord, MAX_WORKER_CRASHES } from '../job-record.ts';
import { RunSupersededError } from '../run-errors.ts';
import { localModelDir } from '../model-cache.ts';
import { fetchPrepared, isPublished, preparedCacheKey, publishPrepared, type PreparedSource } from '../prepared-cache.ts';
import { PreparationProgress } from '../preparation-progress.ts';
import { usageMeter } from '../usage.ts';
import { RENDERING, finalize } from '../finalization.ts';
import { validateCheckpoint } from '../checkpoint-validation.ts';

/**
 * One training job: prepare data, train with checkpoints, render samples. Re-entrant: after a crash (BullMQ
 * stalled-job recovery) it runs again and resumes from the latest checkpoint that has a row in Postgres, or, once
 * the final checkpoint exists, from finalization. Every write is fenced by the run's token (JobRecord).
 */
export async function trainJob(deps: WorkerDeps & { cancels: CancelRegistry }, job: QueueJob<TrainPayload>, token?: string) {
  const { jobId } = job.data;
  const rec = new JobRecord(deps, jobId);
  const claim = await rec.claim();
  if (!claim.run) {
    if (claim.state === 'cancelling') await rec.endCancelling();
    return { state: claim.state === 'cancelling' ? 'cancelled' : claim.state };
  }
  const claimed = claim.job;
  const { trainer } = deps;
  const controller = deps.cancels.register(jobId);
  const signal = controller.signal;
  const shutdown = deps.shutdown ?? new AbortController().signal;
  // Back to the queue, for another worker to resume from the checkpoint just written: the lock goes with it (the
  // attempt is closed in `finally`, so the next run does not count this as a crash).
  const release = async (step: number | null) => {
    await rec.event('released', { step, reason: 'worker shutdown' });
    await job.moveToWait(token);
    throw new WaitingError();
  };
  let superseded = false;
  const stopUnless = (state: JobState, wanted: JobState) => {
    if (state !== wanted) controller.abort(new Error(`job is ${state}`));
  };
  const work = join(deps.config.dataDir, 'work', 'jobs', jobId);
  const meter = usageMeter(deps, { tenantId: claimed.tenant_id, jobId });
  try {
    if (shutdown.aborted) await release(null);
    if (claim.crashedWhile !== null) await rec.event('worker_crashed', { while: claim.crashedWhile, crashes: claim.crashes });
    const skipSamples = claim.crashes >= MAX_WORKER_CRASHES && claim.crashedWhile?.startsWith(RENDERING) === true;
    if (claim.crashes >= MAX_WORKER_CRASHES && !skipSamples) {
      const message = `the worker process died ${claim.crashes} times in a row while ${claim.crashedWhile ?? 'running this job'} (out of memory or a native crash); the job was stopped so that it cannot take more workers down`;
      await rec.finish('failed', { error_code: JobErrorCodes.workerCrashed, error_message: message });
      throw new UnrecoverableError(message);
    }
    const model = await deps.db.model.findUnique({ where: { id: claimed.model_id } });
    const dataset = await deps.db.dataset.findUnique({ where: { id: claimed.dataset_id } });
    if (!model || model.status !== 'ready') return await failBadInput(rec, JobErrorCodes.modelInvalid, `model ${claimed.model_id} is missing or not ready`);
    if (!dataset || dataset.status !== 'ready') return await failBadInput(rec, JobErrorCodes.datasetInvalid, `dataset ${claimed.dataset_id} is missing or not ready`);
    const hp = storedHyperparameters(claimed.hyperparameters);
    const modelFilesSha256 = (model.info as { files_sha256?: string } | null)?.files_sha256;
    const modelDir = await localModelDir(deps.storage, deps.config.dataDir, model.id, model.s3_prefix, modelFilesSha256);

    // the final checkpoint is stored: training is over, only finalization is left (it resumes like training)
    const finalCp = await deps.db.checkpoint.findFirst({ where: { job_id: jobId, final: true }, orderBy: { step: 'desc' } });
    if (finalCp) {
      await rec.event('resumed', { from_step: finalCp.step, finalizing: true });
      const adapter = join(work, 'final', ADAPTER_FILE);
      if (!skipSamples) await deps.storage.downloadFile(S3Keys.checkpointAdapter(finalCp.s3_prefix), adapter);
      return await finalize(deps, rec, claimed, meter, { modelDir, adapter: skipSamples ? null : adapter, step: finalCp.step, work, finalKey: S3Keys.checkpointAdapter(finalCp.s3_prefix), signal });
    }

    // a step that cannot fit MEMORY_BUDGET_MB fails the job here (job_too_large, not retried), before preparation is spent on it
    await rec.activity(`sizing a training step of model ${model.id} at ${hp.resolution} px against the memory budget`);
    // work before training stops for a cancel and for the worker's shutdown alike
    const stopSignal = AbortSignal.any([signal, shutdown]);
    const memory = await trainer.checkJobMemory({ modelDir, method: claimed.method as 'npo' | 'dpo', hyperparameters: hp, memoryBudgetMb: deps.config.memoryBudgetMb, signal: stopSignal });
    await rec.event('memory_checked', { ...memory });
    if ((await rec.advance('preparing')) !== 'preparing') controller.abort(new Error('job is no longer running'));
    await meter.enter('preparing');
    await rec.activity(`preparing dataset ${dataset.id} (${dataset.format}, ${dataset.size_bytes} bytes) for model ${model.id} at ${hp.resolution} px`);
    const prepared = await obtainPreparedShards(deps, rec, { datasetId: dataset.id, datasetKey: dataset.s3_key, datasetFormat: dataset.format, pairsTotal: (dataset.report as { pairs_kept?: number } | null)?.pairs_kept, modelId: model.id, modelFilesSha256, modelDir, resolution: hp.resolution, work, signal: stopSignal });
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

    let finalKey: string | null = null;
    const onCheckpoint = async (c: CheckpointWritten) => {
      const prefix = S3Keys.checkpoint(jobId, c.step);
      const names: string[] = [];
      for (const file of c.files) {
        await deps.storage.uploadFile(`${prefix}/${basename(file)}`, file);
        names.push(basename(file));
      }
      // the row is written last: a checkpoint without a row does not exist
      if (!(await rec.checkpoint({ step: c.step, prefix, files: names, final: c.final }))) {
        controller.abort(new Error('job is no longer running'));
        return;
      }
      if (c.final) finalKey = S3Keys.checkpointAdapter(prefix);
      await validateCheckpoint(deps, rec, claimed, meter, modelDir, c, work, signal);
    };

    const result = await trainer.trainAdapter({
      modelDir, preparedDir: prepared.preparedDir, method: claimed.method as 'npo' | 'dpo', hyperparameters: hp,
      workDir: join(work, 'train'), resumeFromDir, signal, suspend: shutdown, memoryBudgetMb: deps.config.memoryBudgetMb,
      onPhase: async (p) => {
        stopUnless(await rec.advance(p, p === 'training' ? { training_started_at: new Date() } : {}), p);
        await meter.enter(p);
        await rec.activity(`${p === 'compiling' ? 'compiling' : 'training'} model ${model.id} (resolution ${hp.resolution}, batch_pairs ${hp.batch_pairs}, lora_rank ${hp.lora_rank})`);
      },
      onStep: async (m) => stopUnless(await rec.step(m), 'training'),
      onCheckpoint,
    });

    if (result.suspended) await release(result.steps);
    if (result.cancelled || signal.aborted) throw signal.reason ?? new Error('cancelled');
    return await finalize(deps, rec, claimed, meter, { modelDir, adapter: result.finalAdapter, step: result.steps, work, finalKey, signal });
  } catch (err) {
    if (err instanceof WaitingError) throw err;
    superseded = err instanceof RunSupersededError || signal.reason instanceof RunSupersededError;
    if (superseded) {
      deps.logger.warn({ job: jobId, run: rec.runToken }, (err as Error).message);
      return { state: 'superseded' };
    }
    if (shutdown.aborted && !signal.aborted) await release(null);
    if (signal.aborted) {
      await rec.finish('cancelled').catch(() => {});
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
    if (!superseded) await rec.closeAttempt().catch(() => {});
    // the job's folder lives as long as the job: a retry resumes with it, an ended job leaves nothing behind
    const ended = !superseded && isTerminal(await rec.state().catch(() => 'queued' as JobState));
    await rm(ended ? work : join(work, 'resume'), { recursive: true, force: true }).catch(() => {});
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
    memoryBudgetMb: deps.config.memoryBudgetMb, pairsTotal: o.pairsTotal, onProgress: (p) => progress.report(p.pairs_done, p.pairs_total),
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
