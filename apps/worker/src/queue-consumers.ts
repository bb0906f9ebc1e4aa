import type { Worker, Queue, QueueEvents } from 'bullmq';
import { ACTIVE_STATES, QueueNames, type QueueName } from '@npo/contracts';
import { createQueueEvents, createWorker, requeueStrandedDeliveries } from '@npo/platform';
import type { WorkerDeps } from './deps.ts';
import { CancelRegistry } from './cancellation.ts';
import { validateDatasetJob } from './processors/validate-dataset.ts';
import { validateModelJob } from './processors/validate-model.ts';
import { trainJob } from './processors/train.ts';
import { trainerOn } from './trainer-on-provider.ts';
import { CacheGate } from './cache-eviction.ts';
import { sampleJob } from './processors/sample.ts';
import { deliverWebhookJob, webhookBackoff } from './processors/deliver-webhook.ts';
import { SETTLED_QUEUES, settleFailedQueueJob } from './settle.ts';

// Deliveries whose queue entry was lost (a Redis that lost its data) are re-queued this often.
const WEBHOOK_SWEEP_MS = 60_000;

export interface RunningWorker { workers: Worker[]; close: () => Promise<void> }

type Consumer = (deps: WorkerDeps, cancels: CancelRegistry) => Worker;

/**
 * Starts the consumers of the queues in WORKER_QUEUES. Training runs `WORKER_CONCURRENCY` at a time (1 per device); the stalled-job
 * check re-queues a job whose worker died, and the train processor resumes it from its last checkpoint.
 */
export async function startWorker(given: WorkerDeps): Promise<RunningWorker> {
  const shutdown = new AbortController();
  const deps: WorkerDeps = { ...given, trainer: trainerOn(given.config.executionProvider, given.trainer), shutdown: shutdown.signal };
  const cancels = new CancelRegistry(deps.bus, deps.config.redisKeyPrefix);
  await cancels.start();
  const common = {
    connection: deps.redis,
    prefix: deps.config.redisKeyPrefix,
    stalledInterval: deps.config.stalledIntervalMs,
    lockDuration: deps.config.lockDurationMs,
    maxStalledCount: deps.config.maxStalledCount,
  };
  // training and sampling read the model and prepared-shard caches: trimmed between them, never under them
  const caches = new CacheGate({
    dataDir: deps.config.dataDir, maxBytes: deps.config.cacheMaxBytes,
    onEvicted: (removed) => deps.logger.info({ removed: removed.map((e) => e.dir), bytes: removed.reduce((a, e) => a + e.bytes, 0) }, 'cache entries evicted'),
    onError: (err) => deps.logger.warn({ err: err.message }, 'cache eviction failed'),
  });
  const consumers: Record<QueueName, Consumer> = {
    datasets: () => createWorker(QueueNames.datasets, (job) => validateDatasetJob(deps, job), { ...common, concurrency: 2 }),
    models: () => createWorker(QueueNames.models, (job) => validateModelJob(deps, job), { ...common, concurrency: 2 }),
    train: () => createWorker(QueueNames.train, caches.wrap((job, token) => trainJob({ ...deps, cancels }, job, token)), { ...common, concurrency: deps.config.workerConcurrency }),
    // sampling runs the UNet: GPU workers take it like training
    samples: () => createWorker(QueueNames.samples, caches.wrap((job) => sampleJob({ ...deps, cancels }, job)), { ...common, concurrency: 1 }),
    webhooks: () => createWorker(QueueNames.webhooks, (job) => deliverWebhookJob(deps, job), { ...common, concurrency: 8, settings: { backoffStrategy: webhookBackoff } }),
  };
  // WORKER_QUEUES: GPU workers consume `train` only, CPU workers the validation queues
  const workers = deps.config.workerQueues.map((q) => consumers[q](deps, cancels));
  for (const w of workers) {
    w.on('failed', (job, err) => deps.logger.warn({ queue: w.name, job: job?.id, err: err.message }, 'queue job failed'));
    w.on('error', (err) => deps.logger.error({ queue: w.name, err: err.message }, 'worker error'));
  }
  // A job the queue fails (stalled more than allowed, attempts used up) is settled when it fails, by whichever
  // worker of that queue hears it first (settling is compare-and-set, so the others' tries do nothing).
  const events: QueueEvents[] = [];
  for (const name of deps.config.workerQueues.filter((q) => SETTLED_QUEUES.includes(q))) {
    const qe = createQueueEvents(name, { connection: deps.redis, prefix: deps.config.redisKeyPrefix });
    qe.on('failed', ({ jobId, failedReason }) => {
      settleFailedQueueJob(deps, name, jobId, failedReason ?? 'failed')
        .then((outcome) => outcome !== 'none' && deps.logger.warn({ queue: name, job: jobId, outcome, reason: failedReason }, 'settled a job the queue failed'))
        .catch((err) => deps.logger.error({ queue: name, job: jobId, err: (err as Error).message }, 'could not settle a failed queue job (the start-up reconcile will)'));
    });
    qe.on('error', (err) => deps.logger.error({ queue: name, err: err.message }, 'queue events error'));
    events.push(qe);
  }
  await Promise.all(events.map((e) => e.waitUntilReady()));
  await reconcile(deps);
  const sweep = deps.config.workerQueues.includes('webhooks')
    ? setInterval(() => {
      requeueStrandedDeliveries(deps).catch((err) => deps.logger.warn({ err: (err as Error).message }, 'webhook sweep failed'));
    }, WEBHOOK_SWEEP_MS)
    : undefined;
  sweep?.unref();
  return {
    workers,
    // Stop fetching, then let running training checkpoint after its step in flight and go back to the queue.
    close: async () => {
      clearInterval(sweep);
      const closing = Promise.all(workers.map((w) => w.close()));
      shutdown.abort(new Error('worker shutting down'));
      await closing;
      await Promise.all(events.map((e) => e.close()));
      await cancels.stop();
      await caches.settled();
    },
  };
}

/**
 * Postgres is the durable record: anything it says is pending gets a queue entry (a Redis that lost its data,
 * an API that could not enqueue, a validation that waited for a validator), and anything whose entry the queue
 * failed is settled (settle.ts) or, for queues settle.ts does not own, retried. Adding an existing job id is a no-op.
 */
export async function reconcile(deps: WorkerDeps): Promise<number> {
  let n = 0;
  const ensure = async (queue: Queue, name: string, id: string, data: object) => {
    const existing = await queue.getJob(id);
    const failed = existing ? await existing.isFailed() : false;
    const key = queue.name as QueueName;
    // a failed entry is settled, not blindly retried: poisoned work must not run again at every start
    if (failed && SETTLED_QUEUES.includes(key)) await settleFailedQueueJob(deps, key, id, existing!.failedReason ?? 'failed');
    else if (failed) await existing!.retry('failed');
    else if (!existing) await queue.add(name, data, { jobId: id });
    else return;
    n++;
  };
  for (const d of await deps.db.dataset.findMany({ where: { status: 'validating' }, select: { id: true } })) await ensure(deps.queues.datasets, 'validate', d.id, { datasetId: d.id });
  for (const m of await deps.db.model.findMany({ where: { status: 'validating' }, select: { id: true } })) await ensure(deps.queues.models, 'validate', m.id, { modelId: m.id });
  for (const j of await deps.db.job.findMany({ where: { state: { in: [...ACTIVE_STATES] } }, select: { id: true } })) {
    await ensure(deps.queues.train, 'train', j.id, { jobId: j.id });
  }
  for (const s of await deps.db.sampleSet.findMany({ where: { kind: 'request', status: { in: ['queued', 'running', 'cancelling'] } }, select: { id: true } })) {
    await ensure(deps.queues.samples, 'sample', s.id, { sampleId: s.id });
  }
  n += await requeueStrandedDeliveries(deps, 0);
  return n;
}
