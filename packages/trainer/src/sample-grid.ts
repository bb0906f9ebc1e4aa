import { join } from 'node:path';
import type { PreferenceMethod } from '@npo/diffusion';
import type { ExecutionProvider } from '@npo/graph';
import { roleOfMethod } from './sampling/adapter-roles.ts';
import { renderSamples, type RenderedSamples, type RenderSamplesOptions } from './sampling/render-samples.ts';

export interface SampleGridOptions {
  modelDir: string;
  adapterPath: string;
  /** The method that trained the adapter: it decides the adapter's guidance branch (see adapter-roles.ts). */
  method: PreferenceMethod;
  outDir: string;
  prompts?: string[];
  seeds?: number[];
  guidance?: number;
  steps?: number;
  workDir?: string;
  executionProvider?: ExecutionProvider;
  signal?: AbortSignal;
}

export const PREVIEW_PROMPTS = ['a photo of a cat', 'a red car on a street', 'a bowl of fruit', 'a mountain lake at sunrise'];

/**
 * A job's preview: plain CFG beside CFG with the job's adapter in its role (NPO: negative branch only; DPO: both
 * branches), same prompts and initial noise. Returns the labelled grid (outDir/grid.png) and every image. `render`
 * is where the sampling runs: here, or in a worker thread (renderSamplesInThread, as the worker service renders).
 */
export async function renderSampleGrid(
  o: SampleGridOptions, render: (r: RenderSamplesOptions) => Promise<RenderedSamples> = renderSamples,
): Promise<RenderedSamples & { file: string }> {
  const role = roleOfMethod(o.method);
  const w = o.guidance ?? 7.5;
  const res = await render({
    modelDir: o.modelDir,
    prompts: o.prompts ?? PREVIEW_PROMPTS,
    seeds: o.seeds ?? [0, 1, 2, 3],
    guidance: [w],
    steps: o.steps ?? 20,
    adapters: { [role]: o.adapterPath },
    adaptedLabel: `${o.method.toUpperCase()} (${role === 'positive' ? 'both branches' : 'negative branch'})`,
    title: `preview: plain CFG vs ${o.method.toUpperCase()}, w = ${w}`,
    outDir: o.outDir,
    workDir: o.workDir ?? join(o.outDir, '.grid-work'),
    executionProvider: o.executionProvider,
    signal: o.signal,
  });
  return { ...res, file: join(o.outDir, res.grid) };
}
