// Every S3 key the service reads or writes, built here. Tenants write only below their own imports root
// (imports.ts checks a registered prefix against it); every other folder is the service's.
import { ADAPTER_FILES, type AdapterFormat } from './files.ts';
import { tenantImportsRoot } from './imports.ts';

const ROOTS = { datasets: 'datasets', jobs: 'jobs', models: 'models', prepared: 'prepared', samples: 'samples' } as const;

/** The service's own top-level folders: no tenant may import from or be allowed into them. */
export const SERVICE_ROOTS: readonly string[] = Object.values(ROOTS);

export const S3Keys = {
  /** Everything of one dataset (deleted with it). */
  dataset: (id: string) => `${ROOTS.datasets}/${id}`,
  datasetFile: (id: string, format: string) => `${ROOTS.datasets}/${id}/data.${format}`,
  /** Everything of one uploaded model. */
  model: (id: string) => `${ROOTS.models}/${id}`,
  /** The uploaded archive as sent (`.tar` or `.tar.gz`). */
  modelUpload: (id: string, ext: string) => `${ROOTS.models}/${id}/upload${ext.toLowerCase()}`,
  modelFiles: (id: string) => `${ROOTS.models}/${id}/files`,
  builtinModel: (name: string) => `${ROOTS.models}/builtin/${name}`,
  /** Every prepared form of one dataset (deleted with it). */
  datasetPrepared: (datasetId: string) => `${ROOTS.prepared}/${datasetId}`,
  /** Shards of one (dataset, model, resolution), shared by every worker; `hash` names the model and resolution. */
  prepared: (datasetId: string, hash: string) => `${ROOTS.prepared}/${datasetId}/${hash}`,
  checkpoint: (jobId: string, step: number) => `${ROOTS.jobs}/${jobId}/checkpoints/step-${step}`,
  checkpointAdapter: (checkpointPrefix: string, format: AdapterFormat = 'peft') => `${checkpointPrefix}/${ADAPTER_FILES[format]}`,
  /** A sample set a user asked for (job or base model): its own folder, since a model's sets have no job. */
  requestedSampleSet: (sampleSetId: string) => `${ROOTS.samples}/${sampleSetId}`,
  /** A sample set a job's worker makes itself (its preview, a checkpoint's validation), kept with the job. */
  jobSampleSet: (jobId: string, sampleSetId: string) => `${ROOTS.jobs}/${jobId}/samples/${sampleSetId}`,
  /** One file (grid or image) of a sample set, below the set's stored prefix. */
  sampleFile: (sampleSetPrefix: string, name: string) => `${sampleSetPrefix}/${name}`,
  tenantImports: tenantImportsRoot,
};
