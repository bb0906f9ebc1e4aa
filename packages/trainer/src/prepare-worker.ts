import { encodeDatasetForModel, type EncodeDatasetOptions } from './encode-dataset.ts';
import type { EncodeProgress } from '@npo/diffusion';
import type { ThreadTask } from './thread-task.ts';

/**
 * Preparation as a thread task (prepare-thread.ts): the options without the signal and callback, which do not cross
 * (the thread's own stand in for them).
 */
const prepare: ThreadTask<Omit<EncodeDatasetOptions, 'signal' | 'onProgress'>, { preparedDir: string; pairs: number; cached: boolean }, EncodeProgress> =
  (o, progress, signal) => encodeDatasetForModel({ ...o, onProgress: progress, signal });
export default prepare;
