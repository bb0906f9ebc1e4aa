import { createHash } from 'node:crypto';
import {
  ConflictError, NotFoundError, ValidationError, S3Keys, RUNNING_STATES, newId, modelShapeOf, resolveHyperparameters, resolveValidation, metadataProblem, Channels, TERMINAL_STATES,
  ADAPTER_FILES, type AdapterFormat, type CreateJob, type Job, type JobState, type SampleResultRecord,
} from '@npo/contracts';
import { Prisma, recordJobEvent, type Db, type Queues, type EventBus, type Storage, type JobRow } from '@npo/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { jobToApi } from './serialize.ts';
import { cursorWhere, eventCursorWhere, page } from './pagination.ts';
import { findVisibleModel } from './models.ts';
import { findDataset } from './datasets.ts';
import { streamJobEvents } from './sse.ts';
import { eventToApi } from './job-events.ts';
import type { StreamRegistry } from './sse-streams.ts';

export interface JobServiceDeps { db: Db; storage: Storage; queues: Queues; bus: EventBus; redisKeyPrefix: string; streams: StreamRegistry }
export type JobService = ReturnType<typeof createJobService>;

/** Canonical JSON (sorted keys) so the same body hashes the same whatever its key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

/** A job trains only on a model and a dataset that passed validation. */
export function requireReady(kind: 'model' | 'dataset', row: { id: string; status: string }): void {
  if (row.status !== 'ready') throw new ConflictError(`${kind} ${row.id} is ${row.status}, not ready`, `${kind}_${row.status === 'invalid' ? 'invalid' : 'not_ready'}`, { [kind]: row.id, status: row.status });
}

// By primary key, tenant checked here: Prisma plans a unique lookup for ~35% less CPU than findFirst, and status
// polling is the API's hottest path. Another tenant's job is indistinguishable from a missing one.
export async function findJob(db: Db, tenantId: string, id: string): Promise<JobRow> {
  const row = await db.job.findUnique({ where: { id } });
  if (!row || row.tenant_id !== tenantId) throw new NotFoundError('job', id);
  return row;
}

/** The job an earlier request with this Idempotency-Key made (409 if that request's body differed), or null. */
async function replayPrior(db: Db, tenantId: string, key: string, requestHash: string) {
  const prior = await db.job.findUnique({ where: { tenant_id_idempotency_key: { tenant_id: tenantId, idempotency_key: key } } });
  if (!prior) return null;
  if (prior.request_hash !== requestHash) {
    throw new ConflictError(`Idempotency-Key "${key}" was already used with a different request body`, 'idempotency_conflict', { job: prior.id });
  }
  return { job: jobToApi(prior), created: false };
}

const validationSets = (db: Db, jobId: string) =>
  db.sampleSet.findMany({ where: { job_id: jobId, kind: 'validation', status: 'succeeded' }, orderBy: { checkpoint_step: 'asc' } });

/** The S3 key and download name of a checkpoint's adapter in the asked format (PEFT unless `kohya`). */
export async function checkpointAdapterFile(db: Db, tenantId: string, id: string, step: number, format: AdapterFormat = 'peft'): Promise<{ key: string; filename: string }> {
  await findJob(db, tenantId, id);
  const cp = await db.checkpoint.findUnique({ where: { job_id_step: { job_id: id, step } } });
  if (!cp) throw new NotFoundError('checkpoint', `${id}/step-${step}`);
  const file = ADAPTER_FILES[format];
  // checkpoints written before the kohya export existed have only the PEFT file
  if (!(cp.files as string[]).includes(file))
    throw new ConflictError(`checkpoint step ${step} of job ${id} has no ${format} export (it was written before that format existed); download format=peft`, 'format_not_available', { format, step });
  return { key: S3Keys.checkpointAdapter(cp.s3_prefix, format), filename: `${id}-step-${step}-${file}` };
}

/** `?status=`, or its deprecated alias `?state=`; both at once must agree. */
function statusFilter(q: { status?: JobState; state?: JobState }): JobState | undefined {
  if (q.status && q.state && q.status !== q.state)
    throw new ValidationError(`state is a deprecated alias of status: give one of the two (status=${q.status}, state=${q.state})`, { field: 'querystring.state' });
  return q.status ?? q.state;
}

/** Training jobs: every operation the /v1/jobs routes make, with the connections given once. */
export function createJobService(deps: JobServiceDeps) {
  const { db } = deps;

  /** The route's header schema has already checked the Idempotency-Key (1 to 255 characters). */
  async function create(tenantId: string, body: CreateJob, idempotencyKey?: string): Promise<{ job: Job; created: boolean }> {
    const badMetadata = body.metadata === undefined ? null : metadataProblem(body.metadata);
    if (badMetadata) throw new ValidationError(badMetadata.message, { field: badMetadata.field }, badMetadata.code);
    const requestHash = createHash('sha256').update(canonical(body)).digest('hex');
    if (idempotencyKey) {
      const replayed = await replayPrior(db, tenantId, idempotencyKey, requestHash);
      if (replayed) return replayed;
    }
    const model = await findVisibleModel(db, tenantId, body.model);
    requireReady('model', model);
    const dataset = await findDataset(db, tenantId, body.dataset);
    requireReady('dataset', dataset);
    // the model's shape as the worker's model-folder reader stored it
    const hp = resolveHyperparameters(body.hyperparameters ?? {}, { method: body.method, model: modelShapeOf(model.info) });
    const validation = body.validation ? resolveValidation(body.validation, hp.checkpoint_every) : null;
    if (body.validation && !validation) {
      throw new ValidationError(`validation.every (${body.validation.every}) must be a multiple of hyperparameters.checkpoint_every (${hp.checkpoint_every}): validation samples a checkpoint`, { field: 'body.validation.every', checkpoint_every: hp.checkpoint_every }, 'validation_every_not_multiple');
    }
    const id = newId('job');
    let row;
    try {
      row = await db.job.create({
        data: {
          id, tenant_id: tenantId, model_id: model.id, dataset_id: dataset.id, method: body.method,
          hyperparameters: hp as unknown as Prisma.InputJsonValue, metadata: (body.metadata ?? {}) as Prisma.InputJsonValue,
          state: 'queued', total_steps: hp.steps, validation: validation ?? Prisma.DbNull, idempotency_key: idempotencyKey ?? null, request_hash: requestHash,
        },
      });
    } catch (err) {
      // a concurrent request with the same Idempotency-Key won the insert
      if (idempotencyKey && err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') {
        const replayed = await replayPrior(db, tenantId, idempotencyKey, requestHash);
        if (replayed) return replayed;
      }
      throw err;
    }
    await recordJobEvent(deps, id, 'state', { state: 'queued' });
    // If Redis is down here the row is still queued; the worker re-enqueues queued jobs at start-up.
    await deps.queues.train.add('train', { jobId: id }, { jobId: id });
    return { job: jobToApi(row), created: true };
  }

  async function get(tenantId: string, id: string) {
    // one read by primary key (status polling is the hot path): the job's usage is the running total on its row
    return jobToApi(await findJob(db, tenantId, id));
  }

  async function list(tenantId: string, q: { cursor?: string; limit?: number; status?: JobState; state?: JobState; model?: string; dataset?: string }) {
    const limit = q.limit ?? 50;
    const status = statusFilter(q);
    const rows = await db.job.findMany({
      where: {
        tenant_id: tenantId,
        ...(status ? { state: status } : {}),
        ...(q.model ? { model_id: q.model } : {}),
        ...(q.dataset ? { dataset_id: q.dataset } : {}),
        ...cursorWhere(q.cursor),
      },
      orderBy: { id: 'desc' },
      take: limit + 1,
    });
    return page(rows, limit, (r) => jobToApi(r));
  }

  /**
   * Cancels a job. A queued job is cancelled at once (and its queue entry removed); a running one becomes
   * `cancelling` in Postgres and a Redis message tells the owning worker to abort at the next step boundary
   * (the worker also sees the flag in Postgres when it records a step, should the message be lost).
   */
  async function cancel(tenantId: string, id: string) {
    const row = await findJob(db, tenantId, id);
    if (TERMINAL_STATES.includes(row.state as JobState)) throw new ConflictError(`job ${id} already ${row.state}`, 'job_not_cancellable', { state: row.state });
    const now = new Date();
    const queued = await db.job.updateMany({ where: { id, state: 'queued' }, data: { state: 'cancelled', finished_at: now } });
    if (queued.count === 1) {
      await deps.queues.train.remove(id).catch(() => 0); // a worker holding it sees `cancelled` and skips
      await recordJobEvent(deps, id, 'state', { state: 'cancelled' });
    } else {
      const running = await db.job.updateMany({ where: { id, state: { in: [...RUNNING_STATES] } }, data: { state: 'cancelling' } });
      if (running.count === 1) await recordJobEvent(deps, id, 'state', { state: 'cancelling' });
      await deps.bus.publish(Channels.cancel(deps.redisKeyPrefix), { jobId: id });
    }
    return jobToApi(await findJob(db, tenantId, id));
  }

  async function listEvents(tenantId: string, id: string, q: { cursor?: string; limit?: number }) {
    await findJob(db, tenantId, id);
    const limit = q.limit ?? 100;
    const rows = await db.jobEvent.findMany({ where: { job_id: id, ...eventCursorWhere(q.cursor) }, orderBy: { id: 'asc' }, take: limit + 1 });
    return page(rows, limit, eventToApi);
  }

  /** Live events as Server-Sent Events; a missing job is a 404 before the stream starts. */
  async function streamEvents(tenantId: string, id: string, request: FastifyRequest, reply: FastifyReply) {
    await findJob(db, tenantId, id);
    return streamJobEvents(deps, request, reply, id);
  }

  /** Per-step training metrics, and per validated checkpoint the mean reward of both arms (worlds with a reward). */
  async function metricSeries(tenantId: string, id: string) {
    await findJob(db, tenantId, id);
    const rows = await db.jobMetric.findMany({ where: { job_id: id }, orderBy: { step: 'asc' } });
    const validations = await validationSets(db, id);
    const validation = validations.flatMap((v) => {
      const rewards = (v.result as SampleResultRecord | null)?.rewards;
      return rewards && v.checkpoint_step !== null ? [{ step: v.checkpoint_step, reward_base: rewards.base, reward_adapted: rewards.adapted, reward_difference: rewards.difference, n: rewards.n }] : [];
    });
    return { data: rows.map((r) => ({ step: r.step, loss: r.loss, implicit_acc: r.implicit_acc, grad_norm: r.grad_norm, lr: r.lr, step_ms: r.step_ms, peak_rss_mb: r.peak_rss_mb })), validation };
  }

  /** Checkpoints, each with the id of its validation sample set when the job has validation prompts. */
  async function listCheckpoints(tenantId: string, id: string) {
    await findJob(db, tenantId, id);
    const rows = await db.checkpoint.findMany({ where: { job_id: id }, orderBy: { step: 'asc' } });
    const byStep = new Map((await validationSets(db, id)).map((v) => [v.checkpoint_step, v.id]));
    return { data: rows.map((r) => ({ step: r.step, final: r.final, files: r.files as string[], validation_sample: byStep.get(r.step) ?? null, created_at: r.created_at.toISOString() })) };
  }

  /**
   * A checkpoint's adapter in the asked format: a presigned URL (5 minutes) to redirect to, or with `stream` the object
   * itself for clients that cannot follow a redirect to S3.
   */
  async function checkpointDownload(tenantId: string, id: string, step: number, o: { format?: AdapterFormat; stream: boolean }) {
    const { key, filename } = await checkpointAdapterFile(db, tenantId, id, step, o.format);
    if (o.stream) return { filename, object: await deps.storage.getStream(key) };
    return { filename, url: await deps.storage.presignGet(key, 300, filename) };
  }

  return { create, get, list, cancel, listEvents, streamEvents, metricSeries, listCheckpoints, checkpointDownload };
}
