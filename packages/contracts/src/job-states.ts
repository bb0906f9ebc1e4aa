import { Type } from 'typebox';

// Every job state once, with the phase it belongs to; the schema and every set of states follow from this table.
// queued → preparing → compiling → training → succeeded | failed | cancelled (+ cancelling)
const JOB_STATE_PHASES = {
  queued: 'waiting',
  preparing: 'running',
  compiling: 'running',
  training: 'running',
  cancelling: 'stopping',
  succeeded: 'terminal',
  failed: 'terminal',
  cancelled: 'terminal',
} as const;

export type JobState = keyof typeof JOB_STATE_PHASES;
type Phase = (typeof JOB_STATE_PHASES)[JobState];
const inPhase = (...phases: Phase[]) => JOB_STATES.filter((s) => phases.includes(JOB_STATE_PHASES[s]));

export const JOB_STATES = Object.keys(JOB_STATE_PHASES) as JobState[];
/** A worker is working on the job. */
export const RUNNING_STATES: readonly JobState[] = inPhase('running');
/** Finished for good: nothing changes a job in these. */
export const TERMINAL_STATES: readonly JobState[] = inPhase('terminal');
/** Not finished: a worker owns or will own it (reconciled into the queue at start-up; its dataset cannot be deleted). */
export const ACTIVE_STATES: readonly JobState[] = inPhase('waiting', 'running', 'stopping');

export const isTerminal = (state: string): boolean => (TERMINAL_STATES as readonly string[]).includes(state);

/** A job's lifecycle value in an API schema; `options` add a description or mark the deprecated `state` alias. */
export const jobStatusSchema = (options: { description?: string; deprecated?: boolean } = {}) =>
  Type.Unsafe<JobState>(Type.Union(JOB_STATES.map((s) => Type.Literal(s)), options));

/**
 * Jobs say `status`, as datasets, models and sample sets do (and OpenAI's and Together's fine-tuning APIs); `state` is
 * the deprecated alias kept for existing clients, always the same value. A `state` event's data carries both names.
 */
export const DEPRECATED_STATE_ALIAS = 'Deprecated alias of status (the same value); kept for existing clients, read status.';
export function withStatusAlias(type: string, data: Record<string, unknown>): Record<string, unknown> {
  if (type !== 'state' || typeof data.state !== 'string' || 'status' in data) return data;
  return { status: data.state, ...data };
}
