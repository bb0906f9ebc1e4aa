import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADAPTER_FILE, InputError } from '@npo/contracts';
import { readSafetensors, writeSafetensors, type HostTensor, type RngState } from '@npo/graph';

export { ADAPTER_FILE };

export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const STATE_FILE = 'trainer_state.json';

/** Everything needed to continue a run exactly where it stopped. */
export interface TrainerState {
  step: number;
  total_steps: number;
  rng: RngState;
  data: unknown;
  /** The program's stepGraphHash, so a resume with other settings is refused instead of silently mixing. */
  step_graph_hash: string;
}

export interface CheckpointContents {
  params: Record<string, HostTensor>;
  optimizer: Record<string, HostTensor>;
  state: TrainerState;
}

export class CheckpointError extends InputError {
  constructor(message: string) {
    super(message, {}, 'invalid_checkpoint', 422);
  }
}

/** An extra file of the checkpoint: the parameters in another format, written by `write(path)`. */
export interface CheckpointExport {
  file: string;
  write(path: string, params: Record<string, HostTensor>): void;
}

/**
 * Writes `<root>/step-<n>/` complete or not at all: files go to a temporary folder that is renamed into
 * place only once all of them are on disk. The adapter is always the first file listed.
 */
export function writeCheckpoint(
  root: string, c: CheckpointContents, writeAdapter: (path: string, params: Record<string, HostTensor>) => void,
  exports: CheckpointExport[] = [],
): { dir: string; files: string[] } {
  const dir = join(root, `step-${c.state.step}`);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  writeAdapter(join(tmp, ADAPTER_FILE), c.params);
  writeSafetensors(join(tmp, OPTIMIZER_FILE), c.optimizer, { step: String(c.state.step) });
  writeFileSync(join(tmp, STATE_FILE), JSON.stringify(c.state, null, 1));
  for (const e of exports) e.write(join(tmp, e.file), c.params);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return { dir, files: [ADAPTER_FILE, OPTIMIZER_FILE, STATE_FILE, ...exports.map((e) => e.file)].map((f) => join(dir, f)) };
}

export function readCheckpoint(dir: string, readAdapter: (path: string) => Record<string, HostTensor>): CheckpointContents {
  for (const f of [ADAPTER_FILE, OPTIMIZER_FILE, STATE_FILE])
    if (!existsSync(join(dir, f))) throw new CheckpointError(`checkpoint ${dir} is incomplete: ${f} is missing`);
  let state: TrainerState;
  try {
    state = JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8'));
  } catch {
    throw new CheckpointError(`checkpoint ${dir}: ${STATE_FILE} is not valid JSON`);
  }
  if (!Number.isInteger(state.step) || !state.rng) throw new CheckpointError(`checkpoint ${dir}: ${STATE_FILE} lacks step or rng state`);
  // checkpoints written before the rename call it `fingerprint`: a job in flight across the upgrade still resumes
  state.step_graph_hash ??= (state as { fingerprint?: string }).fingerprint!;
  return { params: readAdapter(join(dir, ADAPTER_FILE)), optimizer: readSafetensors(join(dir, OPTIMIZER_FILE)), state };
}

/** The newest complete checkpoint folder under `root`, if any (temporary folders are ignored). */
export function latestCheckpoint(root: string): string | null {
  if (!existsSync(root)) return null;
  const steps = readdirSync(root)
    .map((d) => /^step-(\d+)$/.exec(d))
    .filter((m): m is RegExpExecArray => !!m && existsSync(join(root, m[0], STATE_FILE)))
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a);
  return steps.length ? join(root, `step-${steps[0]}`) : null;
}
