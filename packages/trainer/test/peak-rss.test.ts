import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { peakRssMb, resetPeakRss } from '../src/peak-rss.ts';

// A job's peak_rss_mb is the training process's peak since its training run started: maxRSS is the whole process's
// (a thread's memory counts), and resetPeakRss forgets what the process held before (an earlier job, or the
// preparation of this one), where Linux lets it.

/** A thread that touches `mb` MiB and exits (its memory freed with it). */
function touchInThread(mb: number): Promise<void> {
  const w = new Worker(`const b = Buffer.alloc(${mb} * 2 ** 20, 1); require('node:worker_threads').parentPort.postMessage(b[b.length - 1]);`, { eval: true });
  return new Promise((resolve, reject) => {
    w.once('message', () => void w.terminate().then(() => resolve()));
    w.once('error', reject);
  });
}

test('peakRssMb counts what a thread held; resetPeakRss starts a new peak below it (Linux)', async () => {
  const before = peakRssMb();
  await touchInThread(400);
  const peak = peakRssMb();
  assert.ok(peak >= 400 && peak >= before, `peak ${peak} MiB after a thread touched 400 MiB (${before} MiB before)`);
  resetPeakRss();
  if (!existsSync('/proc/self/clear_refs')) return;
  const after = peakRssMb();
  assert.ok(after > 0 && after < peak - 300, `after the reset ${after} MiB, before it ${peak} MiB`);
});
