import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { UnrecoverableError, listFiles, storableJson, type QueueJob } from '@npo/platform';
import { ImportTooLargeError, MODEL_FOLDER_LIMITS, S3Keys, type ModelValidationPayload } from '@npo/contracts';
import { ArchiveError, checkModelFolder, extractArchive, type ArchiveLimits } from '@npo/diffusion';
import type { WorkerDeps } from '../deps.ts';

/** Uploads and imports are bounded alike (MODEL_FOLDER_LIMITS): a few large weight files and small configs. */
const MODEL_ARCHIVE_LIMITS: Partial<ArchiveLimits> = {
  maxEntries: MODEL_FOLDER_LIMITS.maxFiles, maxEntryBytes: MODEL_FOLDER_LIMITS.maxFileBytes, maxTotalBytes: MODEL_FOLDER_LIMITS.maxTotalBytes, maxArchiveBytes: MODEL_FOLDER_LIMITS.maxTotalBytes,
};

/**
 * Validates a registered model: an uploaded tar (or .tar.gz) is unpacked and its files stored under the model's prefix;
 * an S3-prefix model is downloaded. Structural checks (checkModelFolder, from the one model-folder reader's answer: the
 * parts the folder's kind needs, SDXL's consistency), then the trainer's own checks (validateModelFolder).
 */
export async function validateModelJob(deps: WorkerDeps, job: QueueJob<ModelValidationPayload>) {
  const { modelId } = job.data;
  const row = await deps.db.model.findUnique({ where: { id: modelId } });
  if (!row) throw new UnrecoverableError(`model ${modelId} no longer exists`);
  if (row.status !== 'validating') return { status: row.status };
  const work = join(deps.config.dataDir, 'work', 'models', modelId);
  const dir = join(work, 'model');
  try {
    await rm(work, { recursive: true, force: true });
    const uploadKey = (row.info as { upload_key?: string } | null)?.upload_key;
    if (row.source === 'upload' && uploadKey) {
      const tarFile = join(work, 'upload.tar');
      await deps.storage.downloadFile(uploadKey, tarFile);
      try {
        await extractArchive(tarFile, dir, { format: 'tar', limits: MODEL_ARCHIVE_LIMITS });
      } catch (err) {
        const why = err instanceof ArchiveError ? `${err.message} (${err.code})` : `the upload is not a readable tar archive: ${(err as Error).message}`;
        return await finish(deps, modelId, [why], null);
      }
      const files = await listFiles(dir);
      // archives often wrap the folder in one top-level directory: accept that too
      const root = files.every((f) => f.includes('/')) && new Set(files.map((f) => f.split('/')[0])).size === 1 ? join(dir, files[0].split('/')[0]) : dir;
      const check = checkModelFolder(root);
      if (check.ok) await deps.storage.uploadDir(row.s3_prefix, root);
      return await finish(deps, modelId, check.errors, check.info, root);
    }
    // an import: the tenant's prefix, listed within the model-folder bounds, each object read as it was listed
    let listed;
    try {
      listed = await deps.storage.listObjects(row.s3_prefix, MODEL_FOLDER_LIMITS);
    } catch (err) {
      if (err instanceof ImportTooLargeError) return await finish(deps, modelId, [err.message], null);
      throw err;
    }
    const base = `${row.s3_prefix.replace(/\/+$/, '')}/`;
    for (const obj of listed) {
      const rel = obj.key.slice(base.length);
      if (!rel || rel.split('/').some((seg) => seg === '' || seg === '.' || seg === '..')) continue;
      await deps.storage.downloadListed(obj, join(dir, rel));
    }
    const check = checkModelFolder(dir);
    // Pinned: what passed is copied into the service's own prefix and trained from there, so a tenant rewriting its
    // imports afterwards cannot change the bytes a job reads (the import prefix is kept in info).
    return await finish(deps, modelId, check.errors, check.ok ? { ...check.info, import_prefix: row.s3_prefix } : check.info, dir, S3Keys.modelFiles(modelId));
  } finally {
    // every `finish` above is awaited: it reads the folder (the trainer's checks, the pinned copy) before this runs
    await rm(work, { recursive: true, force: true });
  }

  async function finish(d: WorkerDeps, id: string, errors: string[], info: object | null, folder?: string, pinnedPrefix?: string) {
    if (!errors.length && folder) {
      const deep = await d.trainer.validateModelFolder(folder);
      errors = deep.errors;
      info = { ...info, ...deep.info };
    }
    const status = errors.length ? 'invalid' : 'ready';
    if (!errors.length && pinnedPrefix && folder) await d.storage.uploadDir(pinnedPrefix, folder);
    await d.db.model.update({
      where: { id },
      data: { status, errors: errors.length ? storableJson(errors) : undefined, info: info ? storableJson(info) : undefined, ...(!errors.length && pinnedPrefix ? { s3_prefix: pinnedPrefix } : {}) },
    });
    return { status };
  }
}
