import { TERMINAL_STATES, type JobState, type Preparation } from '@npo/contracts';
import { Prisma, recordJobEvent } from '@npo/platform';
import type { WorkerDeps } from './deps.ts';
import type { StepMetrics } from './trainer-api.ts';

// The worker's writes to a job's durable record (Postgres) and its live feed (Redis), in one place.
export class JobRecord {
  constructor(private readonly deps: WorkerDeps, readonly jobId: string) {}

  event(type: string, data: Record<string, unknown>) {
    return recordJobEvent({ ...this.deps, redisKeyPrefix: this.deps.config.redisKeyPrefix }, this.jobId, type, data);
  }

  /** Moves to `state` unless the job is being cancelled or already finished; returns the state it is in now. */
  async advance(state: JobState, extra: Record<string, unknown> = {}): Promise<JobState> {
    const res = await this.updateUnless(['cancelling', ...TERMINAL_STATES], { state, ...extra });
    if (res.updated) await this.event('state', { state });
    return res.state;
  }

  async state(): Promise<JobState> {
    const row = await this.deps.db.job.findUnique({ where: { id: this.jobId }, select: { state: true } });
    return (row?.state ?? 'failed') as JobState;
  }

  /**
   * Writes `data` unless the job is in one of the `unless` states, and returns the state it is in now: one round trip
   * (the update returns the row), a second read only when the update did not apply.
   */
  private async updateUnless(unless: readonly string[], data: Record<string, unknown>): Promise<{ updated: boolean; state: JobState }> {
    try {
      const row = await this.deps.db.job.update({ where: { id: this.jobId, state: { notIn: [...unless] } }, data, select: { state: true } });
      return { updated: true, state: row.state as JobState };
    } catch (err) {
      if (!(err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2025')) throw err;
      return { updated: false, state: await this.state() };
    }
  }

  async finish(state: 'succeeded' | 'failed' | 'cancelled', extra: Record<string, unknown> = {}): Promise<void> {
    const res = await this.deps.db.job.updateMany({
      where: { id: this.jobId, state: { notIn: [...TERMINAL_STATES] } },
      data: { state, finished_at: new Date(), ...extra },
    });
    if (res.count === 1) await this.event('state', { state, ...(extra.error_code ? { error: { code: extra.error_code, message: extra.error_message } } : {}) });
  }

  /** The preparing phase's progress on the job row (the API's `progress.preparation`). */
  async preparation(p: NonNullable<Preparation>): Promise<void> {
    await this.deps.db.job.update({ where: { id: this.jobId }, data: { preparation: p } });
  }

  /** Records one step. Metrics are keyed (job, step): a step replayed after a resume is not stored twice. Returns the job state. */
  async step(m: StepMetrics): Promise<JobState> {
    await this.deps.db.jobMetric.createMany({
      data: [{ job_id: this.jobId, step: m.step, loss: m.loss, implicit_acc: m.implicit_acc, grad_norm: m.grad_norm, lr: m.lr, step_ms: m.step_ms }],
      skipDuplicates: true,
    });
    const latest = { step: m.step, loss: m.loss, implicit_acc: m.implicit_acc, lr: m.lr, grad_norm: m.grad_norm, step_ms: m.step_ms };
    const { state } = await this.updateUnless(TERMINAL_STATES, { step: m.step, latest_metrics: latest });
    await this.event('step', latest);
    return state;
  }
}
