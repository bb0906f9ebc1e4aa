import { renderSamples, type RenderedSamples, type RenderSamplesOptions } from './render-samples.ts';
import type { ThreadTask } from '../thread-task.ts';

/** Sampling as a thread task (render-thread.ts): the options without the signal, which does not cross (the thread's stands in). */
const render: ThreadTask<Omit<RenderSamplesOptions, 'signal'>, RenderedSamples> = (o, _progress, signal) => renderSamples({ ...o, signal });
export default render;
