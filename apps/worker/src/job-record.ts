import { RUNNING_STATES, S3Keys, type JobState, type Preparation } from '@npo/contracts';
import { recordJobEvent } from '@npo/platform';
import type { WorkerDeps } from './deps.ts';
import type { StepMetrics } from './trainer-api.ts';
import { RunSupersededError } from './run-errors.ts';
import type { SampledJob } from './sample-sets.ts';

/** The states a run may move the job out of (it still owns it); `cancelling` and the terminal ones stop it. */
const OWNED: JobState[] = ['queued', ...RUNNING_STATES];

/** Deaths of the worker process in a row, at the same place (no checkpoint in between), before the job is failed. */
export const MAX_WORKER_CRASHES = 3;

/** What a run needs of the job's definition (fixed once the job exists, so the claim's read serves the whole run). */
export type ClaimedJob = SampledJob & { dataset_id: string; hyperparameters: unknown };

export type Claim =
  | { run: true; token: number; attempts: number; crashes: number; crashedWhile: string | null; job: ClaimedJob }
  | { run: false; state: JobState };

/**
 * The worker's writes to a job's durable record (Postgres) and its live feed (Redis), in one place. A run first
 * claims the job (compare-and-set on its `run_token`, which it bumps); every later write of the run is conditional
 * on that token, so a newer run — a second copy after a lost lock, a re-queue — invalidates the older one's
 * writes (they throw RunSupersededError instead of applying), and on the state, so a cancel that lands between a
 * read and a write is never overwritten.
 */
export class JobRecord {
  private token = -1;

  constructor(private readonly deps: WorkerDeps, readonly jobId: string) {}

  get runToken(): number {
    return this.token;
  }

  event(type: string, data: Record<string, unknown>) {
    return recordJobEvent({ ...this.deps, redisKeyPrefix: this.deps.config.redisKeyPrefix }, this.jobId, type, data);
  }

  /** A job found `cancelling` that no run trains any more ends `cancelled` (unfenced: there is no run to fence). */
  async endCancelling(): Promise<boolean> {
    const res = await this.deps.db.job.updateMany({ where: { id: this.jobId, state: 'cancelling' }, data: { state: 'cancelled', finished_at: new Date(), attempt_open: false } });
    if (res.count === 1) await this.event('state', { state: 'cancelled' });
    return res.count === 1;
  }

  /**
   * Starts a run: bumps `run_token` and `attempts` unless the job is cancelling or finished. An attempt still open
   * from the previous run means its process died: that counts as a crash (reset by every new checkpoint).
   */
  async claim(): Promise<Claim> {
    for (;;) {
      const row = await this.deps.db.job.findUnique({ where: { id: this.jobId } });
      if (!row) return { run: false, state: 'failed' };
      if (!OWNED.includes(row.state as JobState)) return { run: false, state: row.state as JobState };
      const crashes = row.attempt_open ? row.crash_count + 1 : row.crash_count;
      const res = await this.deps.db.job.updateMany({
        where: { id: this.jobId, run_token: row.run_token, state: row.state },
        data: { run_token: { increment: 1 }, attempts: { increment: 1 }, attempt_open: true, crash_count: crashes, started_at: row.started_at ?? new Date() },
      });
      if (res.count === 0) continue; // another run or a cancel got there first: look again
      this.token = row.run_token + 1;
      const job = { id: row.id, tenant_id: row.tenant_id, model_id: row.model_id, dataset_id: row.dataset_id, method: row.method, hyperparameters: row.hyperparameters, validation: row.validation };
      return { run: true, token: this.token, attempts: row.attempts + 1, crashes, crashedWhile: row.attempt_open ? row.activity : null, job };
    }
  }

  /** What the run is doing now, named so that a crash during it can say which resource caused it. */
  async activity(what: string): Promise<void> {
    await this.fenced({ activity: what });
  }

  /** The run ended (any outcome but a process death): the next claim does not count a crash. */
  async closeAttempt(): Promise<void> {
    await this.deps.db.job.updateMany({ where: { id: this.jobId, run_token: this.token }, data: { attempt_open: false } });
  }

  /** Moves to `state` unless the job is being cancelled or already finished; returns the state it is in now. */
  async advance(state: JobState, extra: Record<string, unknown> = {}): Promise<JobState> {
    const updated = await this.fenced({ state, ...extra }, OWNED);
    if (!updated) return this.state();
    await this.event('state', { state });
    return state;
  }

  async state(): Promise<JobState> {
    const row = await this.deps.db.job.findUnique({ where: { id: this.jobId }, select: { state: true } });
    return (row?.state ?? 'failed') as JobState;
  }

  /** The rows this run may write: its job, its token, one of `states`. */
  private owned(states: readonly JobState[] = OWNED) {
    return { id: this.jobId, run_token: this.token, state: { in: [...states] } };
  }

  /**
   * Writes `data` if this run still owns the job (its token) and the job is in one of `states`. False when the
   * state did not allow it; RunSupersededError when a newer run holds the job.
   */
  private async fenced(data: Record<string, unknown>, states: readonly JobState[] = [...OWNED, 'cancelling']): Promise<boolean> {
    const res = await this.deps.db.job.updateMany({ where: this.owned(states), data });
    if (res.count === 1) return true;
    await this.assertOwner();
    return false;
  }

  private async assertOwner(): Promise<void> {
    const row = await this.deps.db.job.findUnique({ where: { id: this.jobId }, select: { run_token: true } });
    if (!row || row.run_token !== this.token) throw new RunSupersededError(this.jobId, this.token, row?.run_token);
  }

  /**
   * Ends the job. `succeeded` and `failed` apply only while this run owns it and no cancel came in; `cancelled`
   * also from `cancelling`. Returns whether this call ended it.
   */
  async finish(state: 'succeeded' | 'failed' | 'cancelled', extra: Record<string, unknown> = {}): Promise<boolean> {
    const from = state === 'cancelled' ? [...OWNED, 'cancelling' as const] : OWNED;
    const ended = await this.fenced({ state, finished_at: new Date(), attempt_open: false, ...extra }, from);
    if (ended) await this.event('state', { state, ...(extra.error_code ? { error: { code: extra.error_code, message: extra.error_message } } : {}) });
    return ended;
  }

  /** The preparing phase's progress on the job row (the API's `progress.preparation`). */
  async preparation(p: NonNullable<Preparation>): Promise<void> {
    await this.fenced({ preparation: p });
  }

  /**
   * Records one step, fenced: the job row is updated first (row-locked until commit, so a newer claim waits), then
   * the metric. Metrics are keyed (job, step): a step replayed after a resume is stored, and announced, once — a
   * replayed step whose metric is stored but whose event is not (the run died between the two) is announced now.
   * Returns the job state.
   */
  async step(m: StepMetrics): Promise<JobState> {
    const latest = { step: m.step, loss: m.loss, implicit_acc: m.implicit_acc, lr: m.lr, grad_norm: m.grad_norm, step_ms: m.step_ms, peak_rss_mb: m.peak_rss_mb };
    const inserted = await this.deps.db.$transaction(async (tx) => {
      const own = await tx.job.updateMany({ where: this.owned(), data: { step: m.step, latest_metrics: latest } });
      if (own.count === 0) return null;
      const res = await tx.jobMetric.createMany({
        data: [{ job_id: this.jobId, step: m.step, loss: m.loss, implicit_acc: m.implicit_acc, grad_norm: m.grad_norm, lr: m.lr, step_ms: m.step_ms, peak_rss_mb: m.peak_rss_mb }],
        skipDuplicates: true,
      });
      return res.count;
    });
    if (inserted === null) {
      await this.assertOwner();
      return this.state();
    }
    if (inserted > 0 || !(await this.announced(m.step))) await this.event('step', latest);
    return 'training';
  }

  private async announced(step: number): Promise<boolean> {
    const ev = await this.deps.db.jobEvent.findFirst({ where: { job_id: this.jobId, type: 'step', data: { path: ['step'], equals: step } }, select: { id: true } });
    return ev !== null;
  }

  /**
   * Stores a checkpoint's row (its files are already uploaded) and, for the final one, the job's adapter — only
   * while this run owns a job that is not cancelled. A checkpoint is progress: the crash count starts again.
   */
  async checkpoint(c: { step: number; prefix: string; files: string[]; final: boolean }): Promise<boolean> {
    const stored = await this.deps.db.$transaction(async (tx) => {
      const own = await tx.job.updateMany({
        where: this.owned(),
        data: { crash_count: 0, ...(c.final ? { final_adapter_key: S3Keys.checkpointAdapter(c.prefix) } : {}) },
      });
      if (own.count === 0) return false;
      await tx.checkpoint.upsert({
        where: { job_id_step: { job_id: this.jobId, step: c.step } },
        create: { job_id: this.jobId, step: c.step, s3_prefix: c.prefix, files: c.files, final: c.final },
        update: { s3_prefix: c.prefix, files: c.files, final: c.final },
      });
      return true;
    });
    if (!stored) {
      await this.assertOwner();
      return false;
    }
    await this.event('checkpoint', { step: c.step, final: c.final, files: c.files });
    return true;
  }
}
