import { ConflictError, NotFoundError, UnsupportedMediaTypeError, ValidationError, newId, truncateText, NAME_MAX_LENGTH, type DatasetFormat, ACTIVE_STATES, S3Keys } from '@npo/contracts';
import type { Db, Storage, Queues, DatasetRow } from '@npo/platform';
import { datasetToApi } from './serialize.ts';
import { cursorWhere, page } from './pagination.ts';
import { storeUpload, recordUpload, type UploadedFile } from './store-upload.ts';

const EXT_FORMAT: [RegExp, DatasetFormat][] = [[/\.parquet$/i, 'parquet'], [/\.zip$/i, 'zip'], [/\.tar$/i, 'tar']];

export function detectFormat(filename: string, declared?: string): DatasetFormat {
  if (declared) {
    if (declared === 'parquet' || declared === 'zip' || declared === 'tar') return declared;
    throw new ValidationError(`format must be parquet, zip or tar, got "${declared}"`, { field: 'format' });
  }
  for (const [re, f] of EXT_FORMAT) if (re.test(filename)) return f;
  throw new UnsupportedMediaTypeError(`cannot tell the dataset format of "${filename}": upload a .parquet (Pick-a-Pic), or a .zip/.tar holding pairs.jsonl, or send a "format" field first`, { filename });
}

export interface DatasetServiceDeps { db: Db; storage: Storage; queues: Queues; maxUploadBytes: number }
export type DatasetService = ReturnType<typeof createDatasetService>;

/** Another tenant's dataset is indistinguishable from a missing one. */
export async function findDataset(db: Db, tenantId: string, id: string): Promise<DatasetRow> {
  const row = await db.dataset.findFirst({ where: { id, tenant_id: tenantId } });
  if (!row) throw new NotFoundError('dataset', id);
  return row;
}

/** Datasets: every operation the /v1/datasets routes make, with the connections given once. */
export function createDatasetService(deps: DatasetServiceDeps) {
  const { db } = deps;

  async function create(tenantId: string, upload: UploadedFile) {
    const format = detectFormat(upload.filename, upload.fields.format);
    const name = upload.fields.name || truncateText(upload.filename, NAME_MAX_LENGTH) || 'dataset';
    const id = newId('ds');
    const key = S3Keys.datasetFile(id, format);
    const bytes = await storeUpload(deps.storage, key, S3Keys.dataset(id), upload.file, deps.maxUploadBytes);
    const row = await recordUpload(deps.storage, S3Keys.dataset(id), () => db.dataset.create({
      data: { id, tenant_id: tenantId, name, format, status: 'validating', s3_key: key, size_bytes: BigInt(bytes) },
    }));
    await deps.queues.datasets.add('validate', { datasetId: id }, { jobId: id });
    return datasetToApi(row);
  }

  async function get(tenantId: string, id: string) {
    return datasetToApi(await findDataset(db, tenantId, id));
  }

  async function list(tenantId: string, q: { cursor?: string; limit?: number; status?: string }) {
    const limit = q.limit ?? 50;
    const rows = await db.dataset.findMany({
      where: { tenant_id: tenantId, ...(q.status ? { status: q.status } : {}), ...cursorWhere(q.cursor) },
      orderBy: { id: 'desc' },
      take: limit + 1,
    });
    return page(rows, limit, datasetToApi);
  }

  async function remove(tenantId: string, id: string): Promise<void> {
    await findDataset(db, tenantId, id);
    const busy = await db.job.findFirst({ where: { dataset_id: id, state: { in: [...ACTIVE_STATES] } }, select: { id: true } });
    if (busy) throw new ConflictError(`dataset ${id} is used by job ${busy.id}; cancel it or wait for it to finish`, 'dataset_in_use', { job: busy.id });
    await db.dataset.delete({ where: { id } });
    await deps.storage.deletePrefix(S3Keys.dataset(id));
    await deps.storage.deletePrefix(S3Keys.datasetPrepared(id));
  }

  return { create, get, list, remove };
}
