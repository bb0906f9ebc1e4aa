import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createApiKey } from '@npo/platform';
import { createTestContext, type TestContext } from '../../../packages/platform/src/testing.ts';
import { buildApp } from '../src/app.ts';
import { bearer } from './helpers.ts';

// IMPORT_ALLOW_LIST: the operator lets one tenant import from a shared folder; every other tenant, and every path
// that leaves the folder, is refused with the same answer as any prefix outside a tenant's imports.
let ctx: TestContext;
let app: FastifyInstance;
let keyA: string;
let keyB: string;
const shared = `shared-${randomBytes(4).toString('hex')}/base-models`;

before(async () => {
  ctx = await createTestContext('import-allow');
  const a = await createApiKey(ctx.db, 'a');
  keyA = a.key;
  keyB = (await createApiKey(ctx.db, 'b')).key;
  app = await buildApp({ ...ctx, config: { ...ctx.config, importAllowList: { [a.tenantId]: [`${shared}/`] } }, logger: false });
  await app.ready();
  await ctx.storage.putBuffer(`${shared}/sd15/unet/config.json`, '{"sample_size": 8}');
});
after(async () => {
  await app.close();
  await ctx.storage.deletePrefix(shared.split('/')[0]);
  await ctx.close();
});

const register = (key: string, s3_prefix: string) =>
  app.inject({ method: 'POST', url: '/v1/models', headers: { ...bearer(key), 'content-type': 'application/json' }, payload: JSON.stringify({ name: 'm', s3_prefix }) });

test('an allowed tenant imports from the shared folder; another tenant and paths out of it get invalid_s3_prefix', async () => {
  const ok = await register(keyA, `${shared}/sd15`);
  assert.equal(ok.statusCode, 202, ok.body);
  assert.equal((await ctx.db.model.findUniqueOrThrow({ where: { id: ok.json().id } })).s3_prefix, `${shared}/sd15`);
  for (const [key, prefix] of [[keyB, `${shared}/sd15`], [keyA, `${shared}/../datasets`], [keyA, `${shared}`], [keyA, `${shared}-other/sd15`], [keyA, `${shared}//sd15`]]) {
    const res = await register(key, prefix);
    assert.equal(res.statusCode, 400, `${prefix}: ${res.body}`);
    assert.equal(res.json().error.code, 'invalid_s3_prefix', prefix);
  }
  const refused = await register(keyA, 'elsewhere/sd15');
  assert.match(refused.json().error.message, new RegExp(`or below ${shared}/`));
  assert.doesNotMatch((await register(keyB, 'elsewhere/sd15')).json().error.message, /shared-/, "tenant B is not told of A's folders");
});
