import {
  NotFoundError, ValidationError, type ImportAllowList, UnsupportedMediaTypeError, S3Keys, newId, scopedImportPrefix, tenantImportsRoot, truncateText, NAME_MAX_LENGTH,
} from '@npo/contracts';
import type { Db, Storage, Queues } from '@npo/platform';
import { modelToApi } from './serialize.ts';
import { cursorWhere, page } from './pagination.ts';
import { storeUpload, recordUpload, type UploadedFile } from './store-upload.ts';

/** Models a tenant can see: its own plus the built-ins (owner null). */
const visibleTo = (tenantId: string) => ({ OR: [{ tenant_id: tenantId }, { tenant_id: null }] });

export async function createModelFromS3(
  deps: { db: Db; storage: Storage; queues: Queues; config: { importAllowList: ImportAllowList } }, tenantId: string, body: { name: string; s3_prefix: string },
) {
  const allowed = deps.config.importAllowList[tenantId] ?? [];
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
  const row = await deps.db.model.create({ data: { id, tenant_id: tenantId, name: body.name, source: 's3', s3_prefix: prefix, status: 'validating' } });
  await deps.queues.models.add('validate', { modelId: id }, { jobId: id });
  return modelToApi(row);
}

/** The worker tells plain tar from gzip by its first bytes; the name only has to say it is an archive of a folder. */
const MODEL_ARCHIVE = /\.(tar|tar\.gz|tgz)$/i;

export async function createModelFromUpload(
  deps: { db: Db; storage: Storage; queues: Queues; maxUploadBytes: number },
  tenantId: string,
  upload: UploadedFile,
) {
  const ext = MODEL_ARCHIVE.exec(upload.filename)?.[0];
  if (!ext) throw new UnsupportedMediaTypeError(`model uploads are .tar or .tar.gz (.tgz) archives of a diffusers folder, got "${upload.filename}"`, { filename: upload.filename });
  const id = newId('mdl');
  const tarKey = S3Keys.modelUpload(id, ext);
  await storeUpload(deps.storage, tarKey, S3Keys.model(id), upload.file, deps.maxUploadBytes);
  const name = upload.fields.name || truncateText(upload.filename.slice(0, -ext.length), NAME_MAX_LENGTH) || 'model';
  const row = await recordUpload(deps.storage, S3Keys.model(id), () => deps.db.model.create({
    data: { id, tenant_id: tenantId, name, source: 'upload', s3_prefix: S3Keys.modelFiles(id), status: 'validating', info: { upload_key: tarKey } },
  }));
  await deps.queues.models.add('validate', { modelId: id }, { jobId: id });
  return modelToApi(row);
}

export async function findVisibleModel(db: Db, tenantId: string, id: string) {
  const row = await db.model.findFirst({ where: { id, ...visibleTo(tenantId) } });
  if (!row) throw new NotFoundError('model', id);
  return row;
}

export async function getModel(db: Db, tenantId: string, id: string) {
  return modelToApi(await findVisibleModel(db, tenantId, id));
}

export async function listModels(db: Db, tenantId: string, q: { cursor?: string; limit?: number }) {
  const limit = q.limit ?? 50;
  const rows = await db.model.findMany({ where: { AND: [visibleTo(tenantId), cursorWhere(q.cursor)] }, orderBy: { id: 'desc' }, take: limit + 1 });
  return page(rows, limit, modelToApi);
}
