import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startStack, ROOT, TINY_HP, type Stack } from '../../worker/test/fixtures/e2e-stack.ts';

// The dashboard in a real browser: Debian's Chromium (scripts/setup.sh installs it), driven by playwright-core, no
// browser download. It signs in, watches a tiny-sd job train (the loss curve grows from the live event stream, a
// validation grid appears), asks for samples, and leaves screenshots under .data/.
const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(ROOT, '.data', 'dashboard');
const LONG = 6 * 60 * 1000;
let s: Stack;
let context: BrowserContext;
let page: Page;
const profile = mkdtempSync(join(tmpdir(), 'npo-chromium-'));

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/setup.sh as root (apt-get install chromium)`);
  s = await startStack('dashboard');
  mkdirSync(SHOTS, { recursive: true });
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1100, height: 1500 },
  });
  page = context.pages()[0] ?? (await context.newPage());
});
after(async () => {
  await context?.close();
  await s?.stop();
  rmSync(profile, { recursive: true, force: true });
});

const points = async () => Number((await page.getAttribute('#chart-loss', 'data-points')) ?? 0);

test('sign in with an API key, watch a tiny job train live, see its validation grid, sample from the page', { timeout: LONG }, async () => {
  await page.goto(`${s.base}/dashboard`);
  await page.fill('#apikey', 'not-a-key');
  await page.click('#signin button[type=submit]');
  await page.waitForSelector('#signin-error:text("invalid")');
  await page.fill('#apikey', s.key);
  await page.click('#signin button[type=submit]');
  await page.waitForSelector('#jobs:not([hidden])');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('npo-forge-api-key')), s.key, 'the key lives in sessionStorage');
  assert.deepEqual(await context.cookies(), [], 'no server-side session');

  const { id } = await s.createJob({
    hyperparameters: { ...TINY_HP, steps: 40, checkpoint_every: 10 },
    validation: { prompts: ['a red circle', 'a blue square', 'a yellow triangle'], seeds: [0, 1, 2], every: 20, steps: 12, guidance: 5 },
  });
  await page.waitForSelector(`tr[data-job="${id}"]`, { timeout: 30000 });
  await page.screenshot({ path: join(SHOTS, 'jobs.png') });
  await page.click(`tr[data-job="${id}"] a`);
  await page.waitForSelector('#job:not([hidden])');

  // the curve grows while the job trains: points arrive over the event stream, not by reloading
  await page.waitForFunction(() => Number(document.querySelector('#chart-loss')?.getAttribute('data-points') ?? 0) >= 2, null, { timeout: LONG });
  const early = await points();
  await page.waitForFunction((n) => Number(document.querySelector('#chart-loss')?.getAttribute('data-points') ?? 0) > n, early, { timeout: LONG });
  assert.ok((await points()) > early);
  await page.screenshot({ path: join(SHOTS, 'training.png') });

  await page.waitForSelector('#job-status.succeeded', { timeout: LONG });
  assert.equal(await points(), 40, 'one point per step');
  // cost accounting: the device time the worker counted so far, with its price, beside the status
  await page.waitForSelector('#job-usage', { timeout: LONG });
  assert.match((await page.textContent('#job-usage'))!, /^ · \d+\.\d device-s · \d+\.\d{4} USD$/);
  assert.match((await page.getAttribute('#job-usage', 'title'))!, /training \d+\.\d s.*peak memory \d/);
  await page.waitForFunction(() => [...document.querySelectorAll('#checkpoints figure[data-kind=validation] img')].filter((i) => (i as HTMLImageElement).naturalWidth > 0).length >= 2, null, { timeout: 60000 });
  await page.waitForSelector('#chart-reward:not([hidden])');
  assert.equal(await page.getAttribute('#chart-reward', 'data-points'), '2', 'B − A at steps 20 and 40');
  await page.waitForFunction(() => document.querySelector('#dataset-report')?.textContent?.includes('pairs_kept'));
  assert.ok((await page.locator('#events li').count()) > 10);

  await page.fill('#sample-prompts', 'a green circle\na red square');
  await page.fill('#sample-seeds', '4,5');
  await page.fill('#sample-steps', '10');
  await page.click('#sample-button');
  await page.waitForSelector('#sample-status:text("succeeded")', { timeout: LONG });
  await page.waitForFunction(() => [...document.querySelectorAll('#samples figure[data-kind=request] img')].some((i) => (i as HTMLImageElement).naturalWidth > 0), null, { timeout: 30000 });
  await page.screenshot({ path: join(SHOTS, 'job.png'), fullPage: true });
});

test('the dashboard serves only its own files, with a content security policy', async () => {
  const res = await fetch(`${s.base}/dashboard`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  assert.equal((await fetch(`${s.base}/dashboard/vendor/uPlot.iife.min.js`)).status, 200);
  for (const path of ['/dashboard/../package.json', '/dashboard/%2e%2e/package.json', '/dashboard/vendor/uPlot.cjs.js', '/dashboard/index.html.bak']) {
    assert.equal((await fetch(`${s.base}${path}`)).status, 404, path);
  }
});
