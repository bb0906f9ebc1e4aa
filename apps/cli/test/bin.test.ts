import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startTestServer, type TestServer } from './helpers.ts';

// The installed entry point, as a user runs it: bin/npo.mjs in a child process, configured by environment.
const BIN = new URL('../bin/npo.mjs', import.meta.url).pathname;
const exec = promisify(execFile);
let server: TestServer;
const scratch = mkdtempSync(join(tmpdir(), 'npo-cli-bin-'));
before(async () => { server = await startTestServer('clibin', { MAX_UPLOAD_BYTES: String(4 * 1024 * 1024) }); });
after(async () => {
  await server.close();
  rmSync(scratch, { recursive: true, force: true });
});

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

test('an upload over the API limit: the API refuses it mid-stream, the bin reports payload_too_large', async () => {
  const big = join(scratch, 'big.parquet');
  writeFileSync(big, Buffer.alloc(6 * 1024 * 1024, 7));
  const r = await npo(['datasets', 'upload', big]);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /^error payload_too_large: /);
  const small = join(scratch, 'small "quoted" name.parquet');
  writeFileSync(small, Buffer.alloc(1000, 7));
  const ok = await npo(['datasets', 'upload', small, '--name', 'ünïcode name', '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  const ds = JSON.parse(ok.stdout);
  assert.equal(ds.name, 'ünïcode name');
  assert.equal(ds.size_bytes, 1000);
  assert.equal(ds.format, 'parquet');
});
