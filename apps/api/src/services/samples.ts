import {
  ConflictError, NotFoundError, ValidationError, S3Keys, newId, roleOfMethod, otherRole, Channels, SAMPLE_DEFAULTS, SAMPLE_LIMITS, SAMPLE_TERMINAL,
  type AdapterRole, type CreateJobSamples, type CreateModelSamples, type SampleRequestRecord, type SampleStatus,
} from '@npo/contracts';
import type { Db, EventBus, Queues, Storage, SampleSetRow } from '@npo/platform';
import { findJob, checkpointAdapterFile, requireReady } from './jobs.ts';
import { findVisibleModel } from './models.ts';
import { sampleSetToApi } from './sample-serialize.ts';

export interface SampleServiceDeps { db: Db; storage: Storage; queues: Queues; bus: EventBus; redisKeyPrefix: string }
export type SampleService = ReturnType<typeof createSampleService>;

/** The adapter of a job's checkpoint (its latest when `step` is not given), as a sample request records it. */
async function resolveAdapter(db: Db, tenantId: string, jobId: string, step: number | undefined, role: AdapterRole) {
  const job = await findJob(db, tenantId, jobId);
  let checkpoint = step;
  if (checkpoint === undefined) {
    const latest = await db.checkpoint.findFirst({ where: { job_id: jobId }, orderBy: { step: 'desc' }, select: { step: true } });
    if (!latest) throw new ConflictError(`job ${jobId} has no checkpoint yet; sample after its first one (every checkpoint_every steps)`, 'no_checkpoint', { job: jobId, state: job.state });
    checkpoint = latest.step;
  }
  const { key } = await checkpointAdapterFile(db, tenantId, jobId, checkpoint); // the PEFT file: what loadLora reads
  return { job, adapter: { job: jobId, checkpoint, role, key } };
}

/** Defaults filled in; the image count (prompts × seeds × guidance scales × arms) is bounded. */
function resolveRequest(body: CreateModelSamples, arms: number) {
  const req = {
    prompts: body.prompts,
    negative_prompt: body.negative_prompt ?? '',
    seeds: body.seeds ?? [...SAMPLE_DEFAULTS.seeds],
    guidance: body.guidance ?? [...SAMPLE_DEFAULTS.guidance],
    steps: body.steps ?? SAMPLE_DEFAULTS.steps,
    sampler: body.sampler ?? SAMPLE_DEFAULTS.sampler,
  };
  const images = req.prompts.length * req.seeds.length * req.guidance.length * arms;
  if (images > SAMPLE_LIMITS.images) {
    throw new ValidationError(
      `this request makes ${images} images (prompts × seeds × guidance scales × ${arms} arm${arms > 1 ? 's' : ''}); at most ${SAMPLE_LIMITS.images} per request: ask for fewer prompts, seeds or guidance scales`,
      { images, limit: SAMPLE_LIMITS.images }, 'too_many_images',
    );
  }
  return req;
}

async function findSampleSet(db: Db, tenantId: string, id: string): Promise<SampleSetRow> {
  const row = await db.sampleSet.findUnique({ where: { id } });
  if (!row || row.tenant_id !== tenantId) throw new NotFoundError('sample set', id);
  return row;
}

/** Sample sets: every operation the sample routes make, with the connections given once. */
export function createSampleService(deps: SampleServiceDeps) {
  const { db } = deps;

  async function enqueue(data: { tenantId: string; jobId: string | null; modelId: string; request: SampleRequestRecord }) {
    const id = newId('smp');
    const row = await db.sampleSet.create({
      data: {
        id, tenant_id: data.tenantId, job_id: data.jobId, model_id: data.modelId, kind: 'request', status: 'queued',
        request: data.request as object, s3_prefix: S3Keys.requestedSampleSet(id),
      },
    });
    // If Redis is down here the row stays queued; the worker re-enqueues queued sample sets at start-up.
    await deps.queues.samples.add('sample', { sampleId: id }, { jobId: id });
    return sampleSetToApi(deps.storage, row);
  }

  /** Base vs the job's adapter in its role (default: its method's), optionally another job's adapter in the other role. */
  async function createForJob(tenantId: string, jobId: string, body: CreateJobSamples) {
    const job = await findJob(db, tenantId, jobId);
    const role = body.role ?? roleOfMethod(job.method as 'npo' | 'dpo');
    const mine = await resolveAdapter(db, tenantId, jobId, body.checkpoint, role);
    const adapters = [mine.adapter];
    if (body.other_adapter) {
      if (body.other_adapter.job === jobId) throw new ValidationError('other_adapter.job must be another job: one adapter cannot play both roles', { field: 'body.other_adapter.job' }, 'same_adapter_twice');
      const other = await resolveAdapter(db, tenantId, body.other_adapter.job, body.other_adapter.checkpoint, otherRole(role));
      if (other.job.model_id !== job.model_id) {
        throw new ConflictError(`job ${other.job.id} trained on model ${other.job.model_id}, job ${jobId} on ${job.model_id}: adapters combine only on the same base model`, 'adapter_model_mismatch', { model: job.model_id, other_model: other.job.model_id });
      }
      adapters.push(other.adapter);
    }
    const model = await findVisibleModel(db, tenantId, job.model_id);
    requireReady('model', model);
    const request = { ...resolveRequest(body, 2), adapters };
    return enqueue({ tenantId, jobId, modelId: model.id, request });
  }

  /** The base model alone (one arm). */
  async function createForModel(tenantId: string, modelId: string, body: CreateModelSamples) {
    const model = await findVisibleModel(db, tenantId, modelId);
    requireReady('model', model);
    return enqueue({ tenantId, jobId: null, modelId: model.id, request: { ...resolveRequest(body, 1), adapters: [] } });
  }

  async function get(tenantId: string, id: string) {
    return sampleSetToApi(deps.storage, await findSampleSet(db, tenantId, id));
  }

  /** Every sample set of a job (requests, its preview, its validation grids), oldest first. */
  async function listOfJob(tenantId: string, jobId: string) {
    await findJob(db, tenantId, jobId);
    const rows = await db.sampleSet.findMany({ where: { job_id: jobId }, orderBy: { id: 'asc' }, take: 1000 });
    return { data: await Promise.all(rows.map((r) => sampleSetToApi(deps.storage, r))) };
  }

  /**
   * A queued request is cancelled at once; a running one becomes `cancelling` and its worker stops before the next
   * denoising step (Redis message; the worker also re-reads the row between images).
   */
  async function cancel(tenantId: string, id: string) {
    const row = await findSampleSet(db, tenantId, id);
    if (SAMPLE_TERMINAL.includes(row.status as SampleStatus)) throw new ConflictError(`sample set ${id} already ${row.status}`, 'sample_not_cancellable', { status: row.status });
    const queued = await db.sampleSet.updateMany({ where: { id, status: 'queued' }, data: { status: 'cancelled', finished_at: new Date() } });
    if (queued.count === 1) await deps.queues.samples.remove(id).catch(() => 0);
    else {
      await db.sampleSet.updateMany({ where: { id, status: 'running' }, data: { status: 'cancelling' } });
      await deps.bus.publish(Channels.cancel(deps.redisKeyPrefix), { jobId: id });
    }
    return get(tenantId, id);
  }

  /** A presigned URL of one file of a finished sample set (grid.png or an image's name); S3 keys stay inside. */
  async function fileUrl(tenantId: string, id: string, name: string): Promise<string> {
    const row = await findSampleSet(db, tenantId, id);
    const result = row.result as { grid?: string; images?: { name: string }[] } | null;
    const names = new Set([result?.grid, ...(result?.images ?? []).map((i) => i.name)]);
    if (!names.has(name)) throw new NotFoundError('sample file', `${id}/${name}`);
    return deps.storage.presignGet(S3Keys.sampleFile(row.s3_prefix, name), 300, `${id}-${name}`);
  }

  return { createForJob, createForModel, get, listOfJob, cancel, fileUrl };
}
