import { SampleErrorCodes } from '@npo/contracts';
import { ThreadError } from '../thread-error.ts';
import { runInThread } from '../thread-task.ts';
import { renderSampleGrid, type SampleGridOptions } from '../sample-grid.ts';
import type { RenderedSamples, RenderSamplesOptions } from './render-samples.ts';
import type render from './render-worker.ts';

/**
 * renderSamples in a worker thread (thread-task.ts): at full size one UNet call takes seconds and a grid minutes, all
 * of it blocking its thread. `signal` stops it between denoising steps; the promise rejects with its reason once the
 * thread is gone. Errors keep their code and retryability (an unusable adapter file stays invalid_adapter, not retried).
 */
export function renderSamplesInThread(o: RenderSamplesOptions): Promise<RenderedSamples> {
  const { signal, ...options } = o;
  return runInThread<typeof render>(new URL('./render-worker.ts', import.meta.url), options, {
    label: 'sampling', fromFailure: (f) => new ThreadError(f, SampleErrorCodes.samplingFailed), signal,
  });
}

/** A job's preview grid (renderSampleGrid) sampled in a worker thread. */
export const renderSampleGridInThread = (o: SampleGridOptions) => renderSampleGrid(o, renderSamplesInThread);
