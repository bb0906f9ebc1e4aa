import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestServer, type TestServer } from './helpers.ts';

// The installed entry point, as a user runs it: bin/npo.mjs in a child process, configured by environment.
const BIN = new URL('../bin/npo.mjs', import.meta.url).pathname;
const exec = promisify(execFile);
let server: TestServer;
before(async () => { server = await startTestServer('clibin'); });
after(async () => { await server.close(); });

async function npo(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], { env: { ...process.env, NPO_API_URL: server.url, NPO_API_KEY: server.key, ...env }, timeout: 30000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout: string; stderr: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout, stderr: e.stderr };
  }
}

test('the npo bin talks to the API from the environment and sets its exit status', async () => {
  const list = await npo(['models', 'list', '--json']);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(JSON.parse(list.stdout).data.map((m: { id: string }) => m.id), ['tiny-sd']);

  const missing = await npo(['jobs', 'get', 'job_nope']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error not_found: job job_nope not found/);

  const usage = await npo(['jobs', 'wat']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /unknown action "wat"/);

  // --url overrides NPO_API_URL
  const down = await npo(['models', 'list', '--url', 'http://127.0.0.1:9'], { NPO_API_URL: 'http://example.invalid' });
  assert.equal(down.code, 1);
  assert.match(down.stderr, /^error connection_failed: cannot reach the API at http:\/\/127\.0\.0\.1:9/);
});
