import type { Db } from '../db/client.ts';
import type { Logger } from '../logger.ts';
import { costOf, type PriceTable } from './price-table.ts';
import { recordUsage } from './record.ts';

/** The phases device time is counted in (a job's states while it holds a device, and sampling). */
export const USAGE_PHASES = ['preparing', 'compiling', 'training', 'sampling'] as const;
export type UsagePhase = (typeof USAGE_PHASES)[number];
export const isUsagePhase = (s: string): s is UsagePhase => (USAGE_PHASES as readonly string[]).includes(s);

export interface UsageOwner { tenantId: string; jobId?: string; sampleSetId?: string }
export interface UsageMeterDeps { db: Db; priceTable: PriceTable; deviceKind: string; logger?: Pick<Logger, 'warn'> }

const FLUSH_MS = 60_000;
const RSS_SAMPLE_MS = 1_000;

/**
 * Counts the device time of one run of a job (or sample set) by phase. Each phase segment becomes a usage row,
 * priced as it is written (and added to its job's totals: recordUsage); a phase longer than a minute is written every minute, so a crash loses at most that.
 * Peak memory is the worker process's RSS sampled each second while the segment ran. One device per run (a worker
 * runs one job per device: WORKER_CONCURRENCY). A row that cannot be written is logged, never fails the job.
 */
export class UsageMeter {
  private phase: UsagePhase | null = null;
  private since = 0;
  private peakRss = 0;
  private writes: Promise<void> = Promise.resolve();
  private flushTimer: NodeJS.Timeout | undefined;
  private rssTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: UsageMeterDeps, private readonly owner: UsageOwner, private readonly o = { flushMs: FLUSH_MS }) {}

  /** Closes the current segment and starts counting `phase` (a state that is not a phase stops counting). */
  enter(phase: string): Promise<void> {
    this.cut();
    if (!isUsagePhase(phase)) return this.stop();
    this.phase = phase;
    this.since = performance.now();
    this.peakRss = process.memoryUsage.rss();
    this.rssTimer ??= setInterval(() => { this.peakRss = Math.max(this.peakRss, process.memoryUsage.rss()); }, RSS_SAMPLE_MS).unref();
    this.flushTimer ??= setInterval(() => { this.cut(true); }, this.o.flushMs).unref();
    return this.writes;
  }

  /** Counts `phase` while `fn` runs (an interlude, such as validation sampling at a checkpoint), then what it counted before. */
  async during<T>(phase: UsagePhase, fn: () => Promise<T>): Promise<T> {
    const before = this.phase;
    await this.enter(phase);
    try {
      return await fn();
    } finally {
      await (before ? this.enter(before) : this.stop());
    }
  }

  /** Writes what was counted and stops; the run is over (or left this worker). */
  stop(): Promise<void> {
    this.cut();
    this.phase = null;
    clearInterval(this.flushTimer);
    clearInterval(this.rssTimer);
    this.flushTimer = this.rssTimer = undefined;
    return this.writes;
  }

  /** Ends the current segment as a row; with `keep`, the same phase goes on counting from now. */
  private cut(keep = false): void {
    if (!this.phase) return;
    const now = performance.now();
    const seconds = (now - this.since) / 1000;
    const peak = Math.max(this.peakRss, process.memoryUsage.rss());
    const phase = this.phase;
    this.since = now;
    this.peakRss = process.memoryUsage.rss();
    if (!keep) this.phase = null;
    const ended = new Date();
    const { priceTable, deviceKind } = this.deps;
    const data = {
      tenant_id: this.owner.tenantId, job_id: this.owner.jobId ?? null, sample_set_id: this.owner.sampleSetId ?? null,
      phase, device_kind: deviceKind, device_count: 1, seconds, peak_rss_mb: peak / 2 ** 20,
      cost: costOf(priceTable, deviceKind, 1, seconds), currency: priceTable.currency,
      started_at: new Date(ended.getTime() - seconds * 1000), ended_at: ended,
    };
    this.writes = this.writes.then(() => recordUsage(this.deps.db, data))
      .catch((err) => this.deps.logger?.warn({ err: (err as Error).message, ...this.owner, phase }, 'usage row not written'));
  }
}
