import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { isPrivateAddress, newWebhookSecret, nextWebhookAttemptAt, webhookHeaders, webhookRetryDelayMs, webhookUrlProblem } from '../src/webhooks/index.ts';

test('signatures verify with an independent Standard Webhooks implementation (npm standardwebhooks); tampering does not', () => {
  const secret = newWebhookSecret();
  assert.match(secret, /^whsec_[A-Za-z0-9+/]{32}$/, '24 random bytes, base64');
  assert.notEqual(newWebhookSecret(), secret);
  const body = JSON.stringify({ type: 'job.succeeded', timestamp: new Date().toISOString(), data: { job: { id: 'job_1' } } });
  const headers = webhookHeaders(secret, 'msg_abc', body);
  assert.match(headers['webhook-signature'], /^v1,[A-Za-z0-9+/]{43}=$/);
  assert.deepEqual(new Webhook(secret).verify(body, headers), JSON.parse(body));
  assert.throws(() => new Webhook(secret).verify(`${body} `, headers), /signature/i);
  assert.throws(() => new Webhook(newWebhookSecret()).verify(body, headers), /signature/i);
  assert.throws(() => new Webhook(secret).verify(body, { ...headers, 'webhook-id': 'msg_other' }), /signature/i);
  // the verifier refuses stale timestamps (replay protection): a signature made 10 minutes ago does not pass
  const stale = webhookHeaders(secret, 'msg_abc', body, Date.now() - 10 * 60_000);
  assert.throws(() => new Webhook(secret).verify(body, stale), /timestamp/i);
});

test('URL policy: http(s) only, no credentials, no loopback or private hosts unless allowed', () => {
  assert.equal(webhookUrlProblem('https://hooks.example.com/npo', false), null);
  assert.equal(webhookUrlProblem('http://93.184.216.34:8080/x', false), null);
  const code = (url: string, allow = false) => webhookUrlProblem(url, allow)?.code ?? null;
  assert.equal(code('ftp://example.com/x'), 'invalid_webhook_url');
  assert.equal(code('file:///etc/passwd'), 'invalid_webhook_url');
  assert.equal(code('not a url'), 'invalid_webhook_url');
  assert.equal(code('https://user:pw@example.com/'), 'invalid_webhook_url');
  assert.equal(code('https://token@example.com/'), 'invalid_webhook_url');
  for (const host of ['127.0.0.1', 'localhost', 'api.localhost', '10.1.2.3', '172.20.0.1', '192.168.1.1', '169.254.169.254', '[::1]', '[fd00::1]', '[fe80::1]', '0.0.0.0', '[::ffff:127.0.0.1]', '100.64.0.1']) {
    assert.equal(code(`http://${host}/hook`), 'webhook_url_not_public', host);
    assert.equal(code(`http://${host}/hook`, true), null, `${host} with WEBHOOK_ALLOW_PRIVATE`);
  }
  assert.equal(isPrivateAddress('8.8.8.8'), false);
  assert.equal(isPrivateAddress('2606:4700::1111'), false);
  assert.equal(isPrivateAddress('::ffff:10.0.0.1'), true);
});

test('retry schedule: ×4 from the base, at most 6 h apart, no attempt after the 24 h window', () => {
  const base = 5000;
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => webhookRetryDelayMs(n, base)), [5000, 20000, 80000, 320000, 1280000]);
  assert.equal(webhookRetryDelayMs(20, base), 6 * 3600_000);
  const created = new Date('2026-01-01T00:00:00Z');
  const o = { baseMs: base, windowMs: 24 * 3600_000 };
  // follow the schedule as the worker would, with attempts taking no time
  let now = created.getTime();
  let attempts = 1;
  for (;;) {
    const next = nextWebhookAttemptAt(created, attempts, now, o);
    if (!next) break;
    now = next.getTime();
    attempts++;
  }
  assert.ok(now <= created.getTime() + o.windowMs, 'the last attempt is inside the window');
  assert.ok(now + webhookRetryDelayMs(attempts, base) > created.getTime() + o.windowMs, 'and the one after would not be');
  assert.ok(now - created.getTime() > 18 * 3600_000, `retries span most of the day (last at ${((now - created.getTime()) / 3600_000).toFixed(1)} h)`);
  assert.equal(attempts, 10);
});
