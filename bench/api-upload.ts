// Dataset upload throughput and the API's peak memory: multipart uploads of growing size streamed from a
// generator (nothing held in memory on either side) through the API into S3 (s3rver). If uploads stream, the
// API's peak RSS stays flat as the file size grows. Prints one JSON line per size.
// Usage: tsx bench/api-upload.ts [sizes in MiB, default 16,64,256]
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { startBenchServer } from './api-server.ts';

const sizes = (process.argv[2] ?? '16,64,256').split(',').map(Number);
const server = await startBenchServer('benchupload', { LOG_LEVEL: 'silent' });

const statusKb = (pid: number, field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);

function multipartStream(bytes: number, boundary: string): ReadableStream<Uint8Array> {
  const head = Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="bench.parquet"\r\ncontent-type: application/octet-stream\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const chunk = randomBytes(1024 * 1024);
  let sent = 0;
  let stage = 0;
  return new ReadableStream({
    pull(controller) {
      if (stage === 0) { controller.enqueue(head); stage = 1; return; }
      if (sent < bytes) {
        const n = Math.min(chunk.length, bytes - sent);
        controller.enqueue(chunk.subarray(0, n));
        sent += n;
        return;
      }
      controller.enqueue(tail);
      controller.close();
    },
  });
}

try {
  const baseline = statusKb(server.pid, 'VmRSS');
  for (const mib of sizes) {
    const boundary = `bench${randomBytes(6).toString('hex')}`;
    const t0 = performance.now();
    const res = await fetch(`${server.base}/v1/datasets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.key}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
      body: multipartStream(mib * 1024 * 1024, boundary),
      duplex: 'half',
    } as RequestInit);
    const body = await res.json();
    const seconds = (performance.now() - t0) / 1000;
    console.log(JSON.stringify({
      bench: 'api-upload', size_mib: mib, status: res.status, stored_bytes: body.size_bytes, seconds: Number(seconds.toFixed(2)),
      mib_per_s: Number((mib / seconds).toFixed(1)), api_rss_start_mib: Math.round(baseline / 1024), api_peak_rss_mib: Math.round(statusKb(server.pid, 'VmHWM') / 1024),
    }));
  }
} finally {
  await server.close();
}
