import {
  apiHyperparameters, type Dataset, type DatasetFormat, type DatasetStatus, type Model, type ModelStatus, type Job, type JobMethod, type JobState,
  type ResolvedValidation,
} from '@npo/contracts';
import { jobUsage, type DatasetRow, type ModelRow, type JobRow } from '@npo/platform';

// Database rows → API shapes (ISO timestamps, numbers instead of BigInt, nested progress/error objects). Text and
// JSON columns hold what the API and the workers wrote through the contracts' types, so they are read back as those.
type JsonObject = Record<string, unknown>;
const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function datasetToApi(r: DatasetRow): Dataset {
  return {
    id: r.id, name: r.name, format: r.format as DatasetFormat, status: r.status as DatasetStatus, size_bytes: Number(r.size_bytes),
    report: (r.report as JsonObject | null) ?? null, created_at: r.created_at.toISOString(), updated_at: r.updated_at.toISOString(),
  };
}

export function modelToApi(r: ModelRow): Model {
  return {
    id: r.id, name: r.name, source: r.source as Model['source'], status: r.status as ModelStatus, builtin: r.tenant_id === null, info: (r.info as JsonObject | null) ?? null,
    errors: (r.errors as string[] | null) ?? null, created_at: r.created_at.toISOString(), updated_at: r.updated_at.toISOString(),
  };
}

export function jobToApi(r: JobRow): Job {
  const stored = r.latest_metrics as Job['metrics'];
  // a step stored before peak_rss_mb was measured has none
  const metrics = stored ? { ...stored, peak_rss_mb: stored.peak_rss_mb ?? null } : null;
  const remaining = Math.max(0, r.total_steps - r.step);
  const eta = metrics && r.state === 'training' && typeof metrics.step_ms === 'number' ? Math.round((remaining * metrics.step_ms) / 100) / 10 : null;
  return {
    id: r.id,
    model: r.model_id,
    dataset: r.dataset_id,
    method: r.method as JobMethod,
    status: r.state as JobState,
    state: r.state as JobState, // deprecated alias of status
    hyperparameters: apiHyperparameters(r.hyperparameters as JsonObject),
    metadata: (r.metadata as JsonObject | null) ?? {},
    progress: {
      step: r.step,
      total_steps: r.total_steps,
      percent: r.total_steps ? Math.round((10000 * r.step) / r.total_steps) / 100 : 0,
      eta_seconds: r.state === 'succeeded' ? 0 : eta,
      preparation: (r.preparation as Job['progress']['preparation']) ?? null,
    },
    metrics,
    error: r.error_code ? { code: r.error_code, message: r.error_message ?? '' } : null,
    final_adapter: r.final_adapter_key ?? null,
    validation: (r.validation as ResolvedValidation | null) ?? null,
    usage: jobUsage(r),
    created_at: r.created_at.toISOString(),
    started_at: iso(r.started_at),
    finished_at: iso(r.finished_at),
    updated_at: r.updated_at.toISOString(),
  };
}
