import {
  NotFoundError, ValidationError, type ImportAllowList, UnsupportedMediaTypeError, S3Keys, newId, scopedImportPrefix, tenantImportsRoot, truncateText, NAME_MAX_LENGTH,
  type CreateModelFromS3,
} from '@npo/contracts';
import type { Db, Storage, Queues, ModelRow } from '@npo/platform';
import { modelToApi } from './serialize.ts';
import { cursorWhere, page } from './pagination.ts';
import { storeUpload, recordUpload, type UploadedFile } from './store-upload.ts';

/** Models a tenant can see: its own plus the built-ins (owner null). */
const visibleTo = (tenantId: string) => ({ OR: [{ tenant_id: tenantId }, { tenant_id: null }] });

export interface ModelServiceDeps { db: Db; storage: Storage; queues: Queues; maxUploadBytes: number; importAllowList: ImportAllowList }
export type ModelService = ReturnType<typeof createModelService>;

/** The worker tells plain tar from gzip by its first bytes; the name only has to say it is an archive of a folder. */
const MODEL_ARCHIVE = /\.(tar|tar\.gz|tgz)$/i;

export async function findVisibleModel(db: Db, tenantId: string, id: string): Promise<ModelRow> {
  const row = await db.model.findFirst({ where: { id, ...visibleTo(tenantId) } });
  if (!row) throw new NotFoundError('model', id);
  return row;
}

/** Base models: every operation the /v1/models routes make, with the connections given once. */
export function createModelService(deps: ModelServiceDeps) {
  const { db } = deps;

  async function createFromS3(tenantId: string, body: CreateModelFromS3) {
    const allowed = deps.importAllowList[tenantId] ?? [];
    const prefix = scopedImportPrefix(tenantId, body.s3_prefix, allowed);
    if (!prefix) {
      const root = tenantImportsRoot(tenantId);
      const also = allowed.length ? ` or below ${allowed.map((a) => `${a.replace(/\/+$/, '')}/`).join(', ')}` : '';
      throw new ValidationError(`s3_prefix must name a folder below ${root}/ (your imports)${also}, e.g. ${root}/my-model`, { field: 'body.s3_prefix', imports_root: `${root}/` }, 'invalid_s3_prefix');
    }
    if (!(await deps.storage.head(`${prefix}/unet/config.json`))) {
      throw new ValidationError(`no diffusers model at s3://${deps.storage.bucket}/${prefix}/ (unet/config.json is missing)`, { field: 'body.s3_prefix' }, 'model_not_found_in_s3');
    }
    const id = newId('mdl');
    const row = await db.model.create({ data: { id, tenant_id: tenantId, name: body.name, source: 's3', s3_prefix: prefix, status: 'validating' } });
    await deps.queues.models.add('validate', { modelId: id }, { jobId: id });
    return modelToApi(row);
  }

  async function createFromUpload(tenantId: string, upload: UploadedFile) {
    const ext = MODEL_ARCHIVE.exec(upload.filename)?.[0];
    if (!ext) throw new UnsupportedMediaTypeError(`model uploads are .tar or .tar.gz (.tgz) archives of a diffusers folder, got "${upload.filename}"`, { filename: upload.filename });
    const id = newId('mdl');
    const tarKey = S3Keys.modelUpload(id, ext);
    await storeUpload(deps.storage, tarKey, S3Keys.model(id), upload.file, deps.maxUploadBytes);
    const name = upload.fields.name || truncateText(upload.filename.slice(0, -ext.length), NAME_MAX_LENGTH) || 'model';
    const row = await recordUpload(deps.storage, S3Keys.model(id), () => db.model.create({
      data: { id, tenant_id: tenantId, name, source: 'upload', s3_prefix: S3Keys.modelFiles(id), status: 'validating', info: { upload_key: tarKey } },
    }));
    await deps.queues.models.add('validate', { modelId: id }, { jobId: id });
    return modelToApi(row);
  }

  async function get(tenantId: string, id: string) {
    return modelToApi(await findVisibleModel(db, tenantId, id));
  }

  async function list(tenantId: string, q: { cursor?: string; limit?: number }) {
    const limit = q.limit ?? 50;
    const rows = await db.model.findMany({ where: { AND: [visibleTo(tenantId), cursorWhere(q.cursor)] }, orderBy: { id: 'desc' }, take: limit + 1 });
    return page(rows, limit, modelToApi);
  }

  return { createFromS3, createFromUpload, get, list };
}
