import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One event of onnxruntime's profiler (chrome-trace JSON). */
export interface ProfileEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string; output_type_shape?: Record<string, number[]>[] };
}

/**
 * The newest profile onnxruntime wrote into `dir` under `prefix` (enableProfiling + profileFilePrefix): every event,
 * and its node kernels in the order they ran, each named by its node.
 */
export function readOnnxruntimeProfile(dir: string, prefix: string): { file: string; events: ProfileEvent[]; kernels: (ProfileEvent & { node: string })[] } {
  const name = readdirSync(dir).filter((f) => f.startsWith(prefix)).sort().pop();
  if (!name) throw new Error(`onnxruntime wrote no profile to ${dir}`);
  const file = join(dir, name);
  const events = JSON.parse(readFileSync(file, 'utf8')) as ProfileEvent[];
  const kernels = events
    .filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'))
    .sort((a, b) => a.ts - b.ts)
    .map((e) => ({ ...e, node: e.name.slice(0, -'_kernel_time'.length) }));
  return { file, events, kernels };
}
