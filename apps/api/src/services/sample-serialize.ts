import { S3Keys, type SampleRequestRecord, type SampleResultRecord, type SampleSet } from '@npo/contracts';
import type { SampleSetRow, Storage } from '@npo/platform';

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const URL_TTL_S = 300;

/** Row → API shape, with presigned URLs for the grid and every image of a finished set (S3 keys stay inside). */
export async function sampleSetToApi(storage: Storage, r: SampleSetRow): Promise<SampleSet> {
  const { adapters, ...request } = { adapters: [], ...(r.request as Partial<SampleRequestRecord> | null) } as SampleRequestRecord;
  const result = r.result as SampleResultRecord | null;
  const url = (name: string) => storage.presignGet(S3Keys.sampleFile(r.s3_prefix, name), URL_TTL_S);
  return {
    id: r.id,
    kind: r.kind as SampleSet['kind'],
    status: r.status as SampleSet['status'],
    model: r.model_id,
    job: r.job_id ?? null,
    checkpoint: r.checkpoint_step ?? null,
    request,
    adapters: adapters.map(({ job, checkpoint, role }) => ({ job, checkpoint, role })),
    grid_url: result?.grid ? await url(result.grid) : null,
    images: result ? await Promise.all(result.images.map(async (i) => ({ ...i, url: await url(i.name) }))) : [],
    rewards: result?.rewards ?? null,
    error: r.error_code ? { code: r.error_code, message: r.error_message ?? '' } : null,
    created_at: r.created_at.toISOString(),
    started_at: iso(r.started_at),
    finished_at: iso(r.finished_at),
  };
}
