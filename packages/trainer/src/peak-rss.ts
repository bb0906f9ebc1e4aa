import { existsSync, writeFileSync } from 'node:fs';

// The training process's peak resident set, as the job's metrics report it (peak_rss_mb) and as bench/run.ts
// measures a step: getrusage's maxRSS, which is the whole process's (a worker thread shares it), so it covers the
// step graph's compilation, its sessions and every step. Left alone it is the peak since the process started,
// which in a long-lived worker would include an earlier job, or this job's own preparation (the VAE at full size)
// in the same process: resetPeakRss starts a new peak when a training run starts.

const CLEAR_REFS = '/proc/self/clear_refs';

/**
 * Starts a new peak: on Linux, writing 5 to /proc/self/clear_refs resets the process's resident high-water mark,
 * which getrusage's maxRSS reads. Elsewhere (or where the file cannot be written) the peak stays the process's
 * since it started. With several trainings in one process (WORKER_CONCURRENCY > 1) each reset restarts theirs too.
 */
export function resetPeakRss(): void {
  if (!existsSync(CLEAR_REFS)) return;
  try {
    writeFileSync(CLEAR_REFS, '5');
  } catch {
    // a sandbox that forbids it: the peak is the process's since it started, an upper bound
  }
}

/** The process's peak resident set since the last resetPeakRss (or its start), MiB. */
export function peakRssMb(): number {
  // maxRSS is in KiB
  return Math.round(process.resourceUsage().maxRSS / 1024);
}
