import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createTestApi, bearer, type TestApi } from './helpers.ts';

// scripts/keys-create.ts as an operator runs it: the key is the last line; --revoke takes effect at once.
let t: TestApi;
before(async () => { t = await createTestApi('keyscli'); });
after(async () => { await t.close(); });

const ROOT = new URL('../../..', import.meta.url).pathname;
const cli = (...args: string[]) => execFileSync(process.execPath, ['--import', 'tsx', 'scripts/keys-create.ts', ...args], { cwd: ROOT, env: { ...process.env, ...t.ctx.env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

test('keys:create prints the key last; it authenticates; --revoke disables it', async () => {
  const lines = cli('--tenant', 'cli-tenant').trim().split('\n');
  const key = lines[lines.length - 1];
  assert.match(key, /^npo_[A-Za-z0-9_-]{43}$/);
  const keyId = /key id (key_[0-9a-f]+)/.exec(lines.join('\n'))?.[1];
  assert.ok(keyId);
  assert.equal((await t.app.inject({ url: '/v1/jobs', headers: bearer(key) })).statusCode, 200);
  assert.match(cli('--revoke', keyId), new RegExp(`revoked ${keyId}`));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal((await t.app.inject({ url: '/v1/jobs', headers: bearer(key) })).statusCode, 401);
  assert.throws(() => cli('--revoke', keyId), 'a second revoke exits non-zero');
  assert.throws(() => cli(), /usage/);
});
