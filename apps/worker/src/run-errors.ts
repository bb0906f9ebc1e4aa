import { ConflictError } from '@npo/contracts';

/**
 * A newer run holds the job (its `run_token` moved on: a second copy after a lost lock, a re-queue): this run's
 * writes were refused and it stops without touching the job again. Not retryable: the newer run does the work.
 */
export class RunSupersededError extends ConflictError {
  constructor(jobId: string, token: number, current: number | undefined) {
    super(`job ${jobId}: run ${token} was superseded by run ${current ?? '(job deleted)'}; it stops without writing`, 'run_superseded', { job_id: jobId, run_token: token, current_run_token: current ?? null });
  }
}
