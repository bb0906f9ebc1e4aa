import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { newId } from '@npo/contracts';
import { createTestApi, bearer, type TestApi } from './helpers.ts';

let t: TestApi;
before(async () => { t = await createTestApi('webhooks'); });
after(async () => { await t.close(); });

const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown, key = t.keyA) =>
  t.app.inject({ method, url, headers: { ...bearer(key), ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, payload: body === undefined ? undefined : JSON.stringify(body) });

function expectError(res: { statusCode: number; json: () => any; body: string }, status: number, code: string, field?: string) {
  assert.equal(res.statusCode, status, res.body);
  assert.equal(res.json().error.code, code, res.body);
  if (field) assert.equal(res.json().error.details.field, field, res.body);
}

test('register, read, list, update and delete an endpoint; only the creation answer shows the secret', async () => {
  const created = await call('POST', '/v1/webhooks', { url: 'https://hooks.example.com/npo', events: ['job.succeeded', 'checkpoint.created'], description: 'ci' });
  assert.equal(created.statusCode, 201, created.body);
  const hook = created.json();
  assert.match(hook.secret, /^whsec_[A-Za-z0-9+/=]{32}$/);
  assert.deepEqual({ url: hook.url, events: hook.events, description: hook.description, enabled: hook.enabled }, { url: 'https://hooks.example.com/npo', events: ['job.succeeded', 'checkpoint.created'], description: 'ci', enabled: true });
  const got = (await call('GET', `/v1/webhooks/${hook.id}`)).json();
  assert.equal(got.secret, undefined);
  assert.equal(got.id, hook.id);
  const second = (await call('POST', '/v1/webhooks', { url: 'http://hooks.example.com/b', events: ['dataset.ready'] })).json();
  assert.notEqual(second.secret, hook.secret, 'each endpoint has its own secret');
  const page1 = (await call('GET', '/v1/webhooks?limit=1')).json();
  assert.deepEqual(page1.data.map((h: { id: string }) => h.id), [second.id]);
  const page2 = (await call('GET', `/v1/webhooks?limit=1&cursor=${page1.next_cursor}`)).json();
  assert.deepEqual(page2.data.map((h: { id: string }) => h.id), [hook.id]);
  assert.ok(page1.data.every((h: { secret?: string }) => h.secret === undefined));
  const patched = await call('PATCH', `/v1/webhooks/${hook.id}`, { events: ['job.failed'], enabled: false });
  assert.equal(patched.statusCode, 200, patched.body);
  assert.deepEqual([patched.json().events, patched.json().enabled, patched.json().url], [['job.failed'], false, 'https://hooks.example.com/npo']);
  assert.equal((await call('DELETE', `/v1/webhooks/${hook.id}`)).statusCode, 204);
  expectError(await call('GET', `/v1/webhooks/${hook.id}`), 404, 'not_found');
  expectError(await call('DELETE', `/v1/webhooks/${hook.id}`), 404, 'not_found');
});

test('bad URLs and bodies are 400s with stable codes', async () => {
  const post = (body: unknown) => call('POST', '/v1/webhooks', body);
  expectError(await post({ url: 'ftp://example.com/x', events: ['job.failed'] }), 400, 'invalid_webhook_url', 'body.url');
  expectError(await post({ url: 'https://user:pw@example.com/x', events: ['job.failed'] }), 400, 'invalid_webhook_url', 'body.url');
  expectError(await post({ url: 'nonsense', events: ['job.failed'] }), 400, 'invalid_webhook_url', 'body.url');
  expectError(await post({ url: 'http://127.0.0.1:9/x', events: ['job.failed'] }), 400, 'webhook_url_not_public', 'body.url');
  expectError(await post({ url: 'http://169.254.169.254/latest/meta-data', events: ['job.failed'] }), 400, 'webhook_url_not_public', 'body.url');
  expectError(await post({ url: 'https://example.com/x', events: ['job.started'] }), 400, 'validation_error', 'body.events.0');
  expectError(await post({ url: 'https://example.com/x', events: [] }), 400, 'validation_error', 'body.events');
  expectError(await post({ url: 'https://example.com/x', events: ['job.failed', 'job.failed'] }), 400, 'validation_error', 'body.events');
  expectError(await post({ url: 'https://example.com/x' }), 400, 'validation_error', 'body.events');
  expectError(await post({ url: 'https://example.com/x', events: ['job.failed'], secret: 'whsec_x' }), 400, 'validation_error', 'body.secret');
  const hook = (await post({ url: 'https://example.com/x', events: ['job.failed'] })).json();
  expectError(await call('PATCH', `/v1/webhooks/${hook.id}`, {}), 400, 'validation_error');
  expectError(await call('PATCH', `/v1/webhooks/${hook.id}`, { url: 'http://10.0.0.1/x' }), 400, 'webhook_url_not_public', 'body.url');
  expectError(await call('GET', '/v1/webhooks?cursor=!!'), 400, 'invalid_cursor');
  expectError(await call('GET', `/v1/webhooks/${hook.id}/deliveries?status=lost`), 400, 'validation_error', 'querystring.status');
});

test('deliveries and their attempt log are listed per endpoint; other tenants get 404 everywhere', async () => {
  const hook = (await call('POST', '/v1/webhooks', { url: 'https://example.com/d', events: ['dataset.ready'] })).json();
  const id = newId('msg');
  await t.ctx.db.webhookDelivery.create({ data: { id, endpoint_id: hook.id, tenant_id: t.tenantA, event_type: 'dataset.ready', payload: { type: 'dataset.ready', timestamp: 'x', data: {} }, status: 'pending', attempts: 2, next_attempt_at: new Date() } });
  await t.ctx.db.webhookAttempt.createMany({ data: [
    { delivery_id: id, attempt: 1, status_code: 500, error: 'HTTP 500', duration_ms: 12.5, response_excerpt: 'boom' },
    { delivery_id: id, attempt: 2, status_code: null, error: 'connect ECONNREFUSED', duration_ms: 1 },
  ] });
  const list = (await call('GET', `/v1/webhooks/${hook.id}/deliveries`)).json();
  assert.deepEqual(list.data.map((d: { id: string; status: string; attempts: number }) => [d.id, d.status, d.attempts]), [[id, 'pending', 2]]);
  assert.deepEqual((await call('GET', `/v1/webhooks/${hook.id}/deliveries?status=succeeded`)).json().data, []);
  const detail = (await call('GET', `/v1/webhooks/${hook.id}/deliveries/${id}`)).json();
  assert.deepEqual(detail.attempt_log.map((a: { attempt: number; status_code: number | null; error: string; response_excerpt: string }) => [a.attempt, a.status_code, a.error, a.response_excerpt]),
    [[1, 500, 'HTTP 500', 'boom'], [2, null, 'connect ECONNREFUSED', '']]);
  expectError(await call('GET', `/v1/webhooks/${hook.id}/deliveries/msg_nope`), 404, 'not_found');
  for (const [method, url, body] of [
    ['GET', `/v1/webhooks/${hook.id}`], ['PATCH', `/v1/webhooks/${hook.id}`, { enabled: false }], ['DELETE', `/v1/webhooks/${hook.id}`],
    ['GET', `/v1/webhooks/${hook.id}/deliveries`], ['GET', `/v1/webhooks/${hook.id}/deliveries/${id}`],
  ] as const) expectError(await call(method, url, body, t.keyB), 404, 'not_found');
  assert.deepEqual((await call('GET', '/v1/webhooks', undefined, t.keyB)).json().data, []);
  expectError(await t.app.inject({ method: 'GET', url: '/v1/webhooks' }), 401, 'missing_api_key');
});
