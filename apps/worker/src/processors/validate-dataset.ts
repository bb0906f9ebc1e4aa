import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { emitWebhookEvent, UnrecoverableError, storableJson, type QueueJob } from '@npo/platform';
import type { DatasetValidationPayload } from '@npo/contracts';
import { unfinishedValidationReport, type DatasetFormat } from '@npo/diffusion';
import type { WorkerDeps } from '../deps.ts';

/** Downloads an uploaded dataset, runs validateDataset on it and records `ready` or `invalid` with the report. */
export async function validateDatasetJob(deps: WorkerDeps, job: QueueJob<DatasetValidationPayload>) {
  const { datasetId } = job.data;
  const row = await deps.db.dataset.findUnique({ where: { id: datasetId } });
  if (!row) throw new UnrecoverableError(`dataset ${datasetId} no longer exists`);
  if (row.status !== 'validating') return { status: row.status };
  const dir = join(deps.config.dataDir, 'work', 'datasets', datasetId);
  const file = join(dir, `data.${row.format}`);
  try {
    await deps.storage.downloadFile(row.s3_key, file); // transient S3 errors: BullMQ retries with backoff
    let report;
    try {
      // archives are extracted into this job's folder on the data volume (not the OS temp dir), removed below
      report = await deps.validateDataset(file, row.format as Parameters<typeof deps.validateDataset>[1], { scratchRoot: dir });
    } catch (err) {
      // the validator could not read the file at all: that is an invalid dataset, not a retryable failure
      report = unfinishedValidationReport(row.format as DatasetFormat, (err as Error).message);
    }
    const status = report.valid ? 'ready' : 'invalid';
    await deps.db.dataset.update({ where: { id: datasetId }, data: { status, report: storableJson(report) } });
    await emitWebhookEvent(deps, row.tenant_id, `dataset.${status}`, {
      dataset: { id: row.id, name: row.name, format: row.format, status, rows_read: report.rows_read, pairs_kept: report.pairs_kept, dropped: report.dropped,
        ...('error' in report ? { error: report.error } : {}) },
    });
    return { status };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
