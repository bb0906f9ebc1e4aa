import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isRetryable } from '@npo/contracts';
import { renderSamples, renderSamplesInThread, type RenderSamplesOptions } from '../src/index.ts';
import { strongAdapter } from './helpers.ts';

// The worker service samples (preview grid, validation prompts, sampling requests) in a worker thread: onnxruntime's
// session.run is synchronous, so on the main thread a full-size grid would stall BullMQ's lock renewal and the cancel
// messages for minutes. The thread must give the main thread's images, leave the event loop free, stop on abort and
// carry errors over as the NpoErrors they were.
const TINY_SD = new URL('../../../models/tiny-sd', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'npo-sampling-thread-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const request = (name: string, o: Partial<RenderSamplesOptions> = {}): RenderSamplesOptions => ({
  modelDir: TINY_SD, prompts: ['a red circle', 'a blue square'], seeds: [0, 1, 2], guidance: [5], steps: 25,
  outDir: join(dir, name, 'out'), workDir: join(dir, name, 'graphs'), ...o,
});

/** `run`'s duration and the longest a 2 ms timer was late meanwhile: how long the event loop was blocked at most. */
async function timed<T>(run: () => Promise<T>): Promise<{ result: T; ms: number; maxLagMs: number }> {
  const tick = 2;
  let maxLagMs = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    maxLagMs = Math.max(maxLagMs, now - last - tick);
    last = now;
  }, tick);
  const start = performance.now();
  try {
    const result = await run();
    return { result, ms: performance.now() - start, maxLagMs };
  } finally {
    clearInterval(timer);
  }
}

test('a grid sampled in the thread: the main thread\'s images, and the event loop stays free while it renders', async () => {
  const adapters = { negative: strongAdapter(TINY_SD, dir, 'npo').file };
  const threaded = await timed(() => renderSamplesInThread(request('threaded', { adapters })));
  const direct = await timed(() => renderSamples(request('direct', { adapters })));
  assert.deepEqual(threaded.result.images.map((i) => i.name), direct.result.images.map((i) => i.name));
  threaded.result.images.forEach((img, i) => assert.deepEqual(img.pixels, direct.result.images[i].pixels, img.name));
  assert.ok(existsSync(join(dir, 'threaded', 'out', 'grid.png')));
  // no absolute thresholds (the machine is shared): the loop is never blocked for more than a small part of the render,
  // while on the main thread the same render blocks it for whole session runs (the thread is what frees it)
  const report = `threaded: ${threaded.ms.toFixed(0)} ms, loop blocked ≤ ${threaded.maxLagMs.toFixed(1)} ms; main thread: ${direct.ms.toFixed(0)} ms, ≤ ${direct.maxLagMs.toFixed(1)} ms`;
  console.log(report);
  assert.ok(threaded.maxLagMs < threaded.ms / 20, report);
  assert.ok(direct.maxLagMs > threaded.maxLagMs, report);
});

test('an abort stops the render: it rejects with the reason once the thread is gone, and nothing more is written', async () => {
  const o = request('aborted', { steps: 1000, seeds: [0, 1, 2, 3] });
  const controller = new AbortController();
  const run = renderSamplesInThread({ ...o, signal: controller.signal });
  // sampling has started once the output folder exists (after the prompts are encoded and the UNet compiled)
  while (!existsSync(o.outDir)) await sleep(10);
  const aborted = performance.now();
  controller.abort(new Error('cancelled by the test'));
  await assert.rejects(run, /cancelled by the test/);
  const stopMs = performance.now() - aborted;
  assert.deepEqual(readdirSync(o.outDir), [], 'not one image of 1000 steps was finished');
  // the full render is 1000 denoising steps × 2 arms; stopping waits for one session run at most
  await sleep(Math.max(200, stopMs));
  assert.deepEqual(readdirSync(o.outDir), [], 'the thread wrote nothing after the rejection');
  await assert.rejects(renderSamplesInThread({ ...o, signal: controller.signal }), /cancelled by the test/, 'an aborted signal starts no thread');
});

test('errors keep their class\'s code and retryability across the thread', async () => {
  const bad = join(dir, 'not-an-adapter.safetensors');
  writeFileSync(bad, 'not a safetensors file');
  await assert.rejects(
    renderSamplesInThread(request('bad', { adapters: { negative: bad } })),
    // an unusable adapter file is the request's fault: the worker fails it at once instead of retrying it
    (e: Error & { code?: string }) => e.name === 'AdapterFileError' && e.code === 'invalid_adapter' && !isRetryable(e),
  );
});
