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

export const JobStateSchema = Type.Unsafe<JobState>(Type.Union(JOB_STATES.map((s) => Type.Literal(s))));
