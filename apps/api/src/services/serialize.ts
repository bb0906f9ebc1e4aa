import { apiHyperparameters, type Dataset, type Model, type Job, type UsageSummary } from '@npo/contracts';

// Database rows → API shapes (ISO timestamps, numbers instead of BigInt, nested progress/error objects).
type Row = Record<string, any>;
const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

export function datasetToApi(r: Row): Dataset {
  return {
    id: r.id, name: r.name, format: r.format, status: r.status, size_bytes: Number(r.size_bytes),
    report: r.report ?? null, created_at: r.created_at.toISOString(), updated_at: r.updated_at.toISOString(),
  };
}

export function modelToApi(r: Row): Model {
  return {
    id: r.id, name: r.name, source: r.source, status: r.status, builtin: r.tenant_id === null, info: r.info ?? null,
    errors: r.errors ?? null, created_at: r.created_at.toISOString(), updated_at: r.updated_at.toISOString(),
  };
}

export function jobToApi(r: Row, usage: UsageSummary): Job {
  const metrics = r.latest_metrics ?? null;
  const remaining = Math.max(0, r.total_steps - r.step);
  const eta = metrics && r.state === 'training' && typeof metrics.step_ms === 'number' ? Math.round((remaining * metrics.step_ms) / 100) / 10 : null;
  return {
    id: r.id,
    model: r.model_id,
    dataset: r.dataset_id,
    method: r.method,
    state: r.state,
    hyperparameters: apiHyperparameters(r.hyperparameters),
    metadata: r.metadata ?? {},
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
    validation: r.validation ?? null,
    usage,
    created_at: r.created_at.toISOString(),
    started_at: iso(r.started_at),
    finished_at: iso(r.finished_at),
    updated_at: r.updated_at.toISOString(),
  };
}
