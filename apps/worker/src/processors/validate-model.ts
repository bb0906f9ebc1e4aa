import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { UnrecoverableError, listFiles, storableJson, type QueueJob } from '@npo/platform';
import type { ModelValidationPayload } from '@npo/contracts';
import { ArchiveError, checkModelFolder, extractArchive, type ArchiveLimits } from '@npo/diffusion';
import type { WorkerDeps } from '../deps.ts';

/** A model folder is a few large weight files: entries may be big, but there are few of them. */
const MODEL_ARCHIVE_LIMITS: Partial<ArchiveLimits> = { maxEntries: 10_000, maxEntryBytes: 32 * 1024 ** 3, maxTotalBytes: 64 * 1024 ** 3, maxArchiveBytes: 64 * 1024 ** 3 };

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
        return finish(deps, modelId, [why], null);
      }
      const files = await listFiles(dir);
      // archives often wrap the folder in one top-level directory: accept that too
      const root = files.every((f) => f.includes('/')) && new Set(files.map((f) => f.split('/')[0])).size === 1 ? join(dir, files[0].split('/')[0]) : dir;
      const check = checkModelFolder(root);
      if (check.ok) await deps.storage.uploadDir(row.s3_prefix, root);
      return finish(deps, modelId, check.errors, check.info, root);
    }
    await deps.storage.downloadPrefix(row.s3_prefix, dir);
    const check = checkModelFolder(dir);
    return finish(deps, modelId, check.errors, check.info, dir);
  } finally {
    await rm(work, { recursive: true, force: true });
  }

  async function finish(d: WorkerDeps, id: string, errors: string[], info: object | null, folder?: string) {
    if (!errors.length && folder) {
      const deep = await d.trainer.validateModelFolder(folder);
      errors = deep.errors;
      info = { ...info, ...deep.info };
    }
    const status = errors.length ? 'invalid' : 'ready';
    await d.db.model.update({ where: { id }, data: { status, errors: errors.length ? storableJson(errors) : undefined, info: info ? storableJson(info) : undefined } });
    return { status };
  }
}
