import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { guardedLookup } from './address-policy.ts';

export interface SendResult {
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  responseExcerpt: string;
  /** A 2xx answer. */
  ok: boolean;
  /** Whether another attempt could succeed (false for an address the policy refuses). */
  retryable: boolean;
}

const EXCERPT_BYTES = 1024;

/**
 * One POST of a signed JSON body. Never throws: the outcome (status, error, time, the first KiB of the answer)
 * is what the attempt log stores. Redirects are not followed (a 3xx is a failed attempt), and the whole
 * exchange is bounded by `timeoutMs`.
 */
export function sendWebhook(url: string, headers: Record<string, string>, body: string, o: { timeoutMs: number; allowPrivate: boolean }): Promise<SendResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: Omit<SendResult, 'durationMs' | 'ok'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const ok = r.statusCode !== null && r.statusCode >= 200 && r.statusCode < 300;
      resolve({ ...r, ok, durationMs: Math.round((performance.now() - started) * 10) / 10 });
    };
    const request = new URL(url).protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'npo-forge-webhooks/1' },
      lookup: guardedLookup(o.allowPrivate),
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < EXCERPT_BYTES) chunks.push(c.subarray(0, EXCERPT_BYTES - size));
        size += c.length;
      });
      const finish = () => done({ statusCode: res.statusCode ?? null, error: null, responseExcerpt: Buffer.concat(chunks).toString('utf8'), retryable: true });
      res.on('end', finish);
      res.on('error', finish);
    });
    const timer = setTimeout(() => {
      req.destroy();
      done({ statusCode: null, error: `no answer within ${o.timeoutMs} ms`, responseExcerpt: '', retryable: true });
    }, o.timeoutMs);
    req.on('error', (err: Error & { code?: string }) =>
      done({ statusCode: null, error: err.message, responseExcerpt: '', retryable: err.code !== 'webhook_address_blocked' }));
    req.end(body);
  });
}
