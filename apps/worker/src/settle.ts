import { JobErrorCodes, QueueNames, isTerminal, type QueueName } from '@npo/contracts';
import { unfinishedValidationReport, type DatasetFormat } from '@npo/diffusion';
import { storableJson } from '@npo/platform';
import type { WorkerDeps } from './deps.ts';
import { JobRecord } from './job-record.ts';

/** The queues whose failed entries this module settles (the others' processors keep their own records). */
export const SETTLED_QUEUES: readonly QueueName[] = [QueueNames.datasets, QueueNames.models, QueueNames.train];

/** Runs of one job, all causes together, after which a job the queue gave up on is failed instead of re-queued. */
export const MAX_RUNS = 25;

/** A queue's failure reason quotes whatever failed: made storable (no NUL, no lone surrogate) and bounded. */
const storable = (text: string, max = 2000) => (storableJson(text) as string).slice(0, max);

/**
 * A queue entry BullMQ gave up on ("job stalled more than allowable limit", or its attempts used up) while Postgres
 * still says the work is pending. Called when the queue fails it and by the start-up reconcile, so nothing stays
 * `training` or `validating` for ever and nothing poisoned is retried at every start:
 * - a training job is queued again (it resumes from its last checkpoint, or from finalization once the final one is
 *   stored); the run's crash accounting (JobRecord.claim) fails it with `worker_crashed` if it keeps killing its
 *   worker, and MAX_RUNS bounds everything else;
 * - a dataset or model still `validating` becomes `invalid`, with the reason.
 */
export async function settleFailedQueueJob(deps: WorkerDeps, queue: QueueName, id: string, reason: string): Promise<'requeued' | 'ended' | 'none'> {
  if (queue === QueueNames.datasets) {
    const row = await deps.db.dataset.findUnique({ where: { id }, select: { format: true } });
    if (!row) return 'none';
    const report = unfinishedValidationReport(row.format as DatasetFormat, storable(`validation did not finish: ${reason}`));
    const res = await deps.db.dataset.updateMany({ where: { id, status: 'validating' }, data: { status: 'invalid', report: storableJson(report) } });
    return res.count ? 'ended' : 'none';
  }
  if (queue === QueueNames.models) {
    const res = await deps.db.model.updateMany({ where: { id, status: 'validating' }, data: { status: 'invalid', errors: [storable(`validation did not finish: ${reason}`)] } });
    return res.count ? 'ended' : 'none';
  }
  if (queue !== QueueNames.train) return 'none';
  const row = await deps.db.job.findUnique({ where: { id }, select: { state: true, attempts: true, attempt_open: true, activity: true } });
  if (!row || isTerminal(row.state)) return 'none';
  const rec = new JobRecord(deps, id);
  if (row.state === 'cancelling') {
    await rec.endCancelling();
    return 'ended';
  }
  if (row.attempts >= MAX_RUNS) {
    const crashed = row.attempt_open ? JobErrorCodes.workerCrashed : JobErrorCodes.trainingFailed;
    const message = storable(`the job was run ${row.attempts} times without finishing${row.activity ? ` (last: ${row.activity})` : ''}; the queue's last word: ${reason}`);
    const res = await deps.db.job.updateMany({ where: { id, state: row.state }, data: { state: 'failed', finished_at: new Date(), error_code: crashed, error_message: message, attempt_open: false } });
    if (res.count) await rec.event('state', { state: 'failed', error: { code: crashed, message } });
    return 'ended';
  }
  const entry = await deps.queues.train.getJob(id);
  if (entry && (await entry.isFailed())) await entry.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true }).catch(() => {});
  else if (!entry) await deps.queues.train.add('train', { jobId: id }, { jobId: id });
  return 'requeued';
}
