import { Queue, QueueEvents, Worker, type Processor, type RedisOptions, type WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { QueueNames, type QueueName } from '@npo/contracts';

export { UnrecoverableError, WaitingError, type Job as QueueJob } from 'bullmq';

// One queue per stage kind. The BullMQ job id is our resource id, so re-enqueueing is idempotent and the
// worker finds the row by the id it gets. Attempts with exponential backoff cover transient errors; bad input
// throws UnrecoverableError and fails at once.
export interface QueueFactoryOptions { connection: Redis; prefix: string }

// 8 attempts, 5 s doubling: retries spread over 5 + 10 + … + 320 s ≈ 10.6 minutes, so an outage of Redis, Postgres
// or S3 shorter than 5 minutes fails no job (packages/platform/test/queues.test.ts checks the schedule with BullMQ's own calculation).
export const DEFAULT_JOB_OPTIONS = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 5000 },
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 5000 },
} as const;

// A webhook delivery is retried until its retry window closes (webhooks/retry.ts), not for a fixed count: the
// processor decides each wait and ends the delivery itself; `attempts` is only a backstop.
export const WEBHOOK_BACKOFF_TYPE = 'webhook';
export const WEBHOOK_JOB_OPTIONS = {
  attempts: 100,
  backoff: { type: WEBHOOK_BACKOFF_TYPE },
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 5000 },
} as const;

export class Queues {
  readonly datasets: Queue;
  readonly models: Queue;
  readonly train: Queue;
  readonly samples: Queue;
  readonly webhooks: Queue;
  constructor(private readonly opts: QueueFactoryOptions) {
    this.datasets = this.make(QueueNames.datasets);
    this.models = this.make(QueueNames.models);
    this.train = this.make(QueueNames.train);
    this.samples = this.make(QueueNames.samples);
    this.webhooks = this.make(QueueNames.webhooks, WEBHOOK_JOB_OPTIONS);
  }
  private make(name: QueueName, defaultJobOptions: object = DEFAULT_JOB_OPTIONS): Queue {
    return new Queue(name, { connection: this.opts.connection, prefix: this.opts.prefix, defaultJobOptions });
  }
  all(): Queue[] {
    return [this.datasets, this.models, this.train, this.samples, this.webhooks];
  }
  async close(): Promise<void> {
    await Promise.all(this.all().map((q) => q.close()));
  }
}

export function createWorker(name: QueueName, processor: Processor, opts: { connection: Redis; prefix: string } & Partial<WorkerOptions>): Worker {
  return new Worker(name, processor, opts);
}


/**
 * The queue's event stream (every process sees it): how a worker hears of jobs BullMQ itself failed (stalled too
 * often). It reads with a blocking XREAD, so it gets a connection of its own, made from the shared one's options:
 * BullMQ closes a connection it made, and leaves one it was handed open (which kept the process alive).
 */
export function createQueueEvents(name: QueueName, opts: { connection: Redis; prefix: string }): QueueEvents {
  return new QueueEvents(name, { connection: { ...opts.connection.options } as RedisOptions, prefix: opts.prefix });
}
