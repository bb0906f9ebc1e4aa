import type { JobRecord } from './job-record.ts';

/**
 * Turns the encoder's per-batch callbacks into at most one job-row write a second: pairs done, percent and an ETA
 * from the rate since the first callback (so pairs kept from an interrupted run do not count as speed).
 */
export class PreparationProgress {
  private first: { at: number; done: number } | null = null;
  private lastWrite = -Infinity;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly rec: Pick<JobRecord, 'preparation'>, private readonly pairsTotal?: number, private readonly everyMs = 1000, private readonly now = () => Date.now()) {}

  report(pairsDone: number, pairsTotal = this.pairsTotal): void {
    const now = this.now();
    this.first ??= { at: now, done: pairsDone };
    if (now - this.lastWrite < this.everyMs) return;
    this.lastWrite = now;
    const total = pairsTotal ?? null;
    const fresh = pairsDone - this.first.done;
    const eta = total !== null && fresh > 0 ? Math.round(((total - pairsDone) * (now - this.first.at)) / 1000 / fresh) : null;
    const row = {
      pairs_done: pairsDone,
      pairs_total: total,
      percent: total ? Math.min(100, Math.round((10000 * pairsDone) / total) / 100) : null,
      eta_seconds: eta === null ? null : Math.max(0, eta),
      source: 'encoding' as const,
    };
    // progress is advisory: a failed write must not fail the preparation
    this.writing = this.writing.then(() => this.rec.preparation(row)).catch(() => {});
  }

  /** Resolves once every write started so far has finished. */
  flushed(): Promise<void> {
    return this.writing;
  }
}
