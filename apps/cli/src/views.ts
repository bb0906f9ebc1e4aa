import type { Dataset, Job, JobEvent, Model } from '@npo/contracts';
import { bytes, fields, fixed, keyValues, seconds, table } from './format.ts';

// How each resource is shown to a person.

export const datasetDetail = (d: Dataset) => fields([
  ['id', d.id], ['name', d.name], ['format', d.format], ['status', d.status], ['size', `${bytes(d.size_bytes)} (${d.size_bytes} bytes)`],
  ['report', d.report], ['created', d.created_at], ['updated', d.updated_at],
]);

export const datasetTable = (list: Dataset[]) => table([
  ['ID', 'NAME', 'FORMAT', 'STATUS', 'SIZE', 'CREATED'],
  ...list.map((d) => [d.id, d.name, d.format, d.status, bytes(d.size_bytes), d.created_at]),
]);

export const modelDetail = (m: Model) => fields([
  ['id', m.id], ['name', m.name], ['source', m.source], ['status', m.status], ['builtin', m.builtin ? 'yes' : 'no'],
  ['info', m.info], ['errors', m.errors?.length ? m.errors : null], ['created', m.created_at],
]);

export const modelTable = (list: Model[]) => table([
  ['ID', 'NAME', 'SOURCE', 'STATUS', 'BUILTIN', 'CREATED'],
  ...list.map((m) => [m.id, m.name, m.source, m.status, m.builtin ? 'yes' : 'no', m.created_at]),
]);

/** While preparing with a known size, encoded pairs; otherwise training steps. */
export function progressOf(j: Job): { done: number; total: number | null; unit: 'pairs' | 'steps'; percent: number | null; eta_seconds: number | null } {
  const p = j.progress.preparation;
  if (j.status === 'preparing' && p) return { done: p.pairs_done, total: p.pairs_total, unit: 'pairs', percent: p.percent, eta_seconds: p.eta_seconds };
  return { done: j.progress.step, total: j.progress.total_steps, unit: 'steps', percent: j.progress.percent, eta_seconds: j.progress.eta_seconds };
}

export const progressText = (j: Job) => {
  const p = progressOf(j);
  return `${p.done}/${p.total ?? '?'} ${p.unit}${p.percent === null ? '' : ` (${p.percent}%)`}`;
};

const etaText = (j: Job) => {
  const eta = progressOf(j).eta_seconds;
  return eta === null ? null : seconds(eta);
};

export const jobDetail = (j: Job) => fields([
  ['id', j.id], ['status', j.status], ['method', j.method], ['model', j.model], ['dataset', j.dataset],
  ['progress', progressText(j)], ['eta', etaText(j)],
  ['loss', j.metrics ? fixed(j.metrics.loss, 4) : null], ['implicit acc', j.metrics ? fixed(j.metrics.implicit_acc, 3) : null],
  ['error', j.error ? `${j.error.code}: ${j.error.message}` : null], ['final adapter', j.final_adapter],
  ['hyperparameters', keyValues(j.hyperparameters)], ['metadata', Object.keys(j.metadata).length ? j.metadata : null],
  ['created', j.created_at], ['started', j.started_at], ['finished', j.finished_at],
]);

export const jobTable = (list: Job[]) => table([
  ['ID', 'STATUS', 'METHOD', 'MODEL', 'DATASET', 'PROGRESS', 'CREATED'],
  ...list.map((j) => [j.id, j.status, j.method, j.model, j.dataset, progressText(j), j.created_at]),
]);

/** One event per line; a `state` event shows `status` without its deprecated alias `state` (the same value). */
export const eventLine = (e: JobEvent) => {
  const { state: _alias, ...data } = e.data;
  return `${e.created_at}  ${e.type.padEnd(10)}  ${keyValues(e.type === 'state' && 'status' in e.data ? data : e.data)}`;
};
