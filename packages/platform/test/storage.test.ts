import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Storage } from '../src/storage.ts';
import { loadConfig } from '../src/config.ts';

// Against the s3rver started by scripts/services.sh, over HTTP: the real client code path.
let storage: Storage;
const prefix = `t-storage-${randomBytes(4).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'npo-storage-'));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

before(async () => {
  storage = new Storage(loadConfig({ ...process.env, S3_BUCKET: 'npo-forge-test' }).s3);
  await storage.ensureBucket();
  await storage.ensureBucket(); // idempotent
});
after(async () => {
  await storage.deletePrefix(prefix);
  storage.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test('a streamed multipart upload of unknown length is stored byte for byte (no aws-chunked framing)', async () => {
  const data = randomBytes(9 * 1024 * 1024 + 3); // more than one 8 MiB part
  const chunks = Array.from({ length: 10 }, (_, i) => data.subarray(i * 1000000, i === 9 ? undefined : (i + 1) * 1000000));
  await storage.uploadStream(`${prefix}/big.bin`, Readable.from(chunks));
  assert.equal(sha(await storage.getBuffer(`${prefix}/big.bin`)), sha(data));
  assert.equal((await storage.head(`${prefix}/big.bin`))?.size, data.length);
  assert.equal(await storage.head(`${prefix}/missing.bin`), null);
});

test('directories round-trip; presigned URLs work; prefixes delete', async () => {
  mkdirSync(join(dir, 'src', 'unet'), { recursive: true });
  writeFileSync(join(dir, 'src', 'unet', 'config.json'), '{"a":1}');
  writeFileSync(join(dir, 'src', 'top.txt'), 'top');
  assert.deepEqual(await storage.uploadDir(`${prefix}/dir`, join(dir, 'src')), ['top.txt', 'unet/config.json']);
  assert.deepEqual((await storage.downloadPrefix(`${prefix}/dir`, join(dir, 'out'))).sort(), ['top.txt', 'unet/config.json']);
  assert.equal(readFileSync(join(dir, 'out', 'unet', 'config.json'), 'utf8'), '{"a":1}');
  const url = await storage.presignGet(`${prefix}/dir/top.txt`, 60);
  assert.equal(await (await fetch(url)).text(), 'top');
  await storage.deletePrefix(`${prefix}/dir`);
  assert.deepEqual(await storage.list(`${prefix}/dir`), []);
});

test('listObjects stops at the folder limits (files, one file, total bytes); downloadListed refuses an object changed since listed', async () => {
  const { ImportTooLargeError, ObjectChangedError } = await import('@npo/contracts');
  const folder = `${prefix}/listing`;
  for (let i = 0; i < 5; i++) await storage.putBuffer(`${folder}/f${i}.bin`, Buffer.alloc(100 + i));
  const roomy = { maxFiles: 5, maxFileBytes: 104, maxTotalBytes: 510 };
  const all = await storage.listObjects(folder, roomy);
  assert.deepEqual(all.map((o) => [o.key.slice(folder.length + 1), o.size]), [['f0.bin', 100], ['f1.bin', 101], ['f2.bin', 102], ['f3.bin', 103], ['f4.bin', 104]]);
  assert.ok(all.every((o) => /^"[0-9a-f]{32}"$/.test(o.etag)), all[0].etag);
  for (const [limits, why] of [
    [{ ...roomy, maxFiles: 4 }, /more than 4 files/],
    [{ ...roomy, maxFileBytes: 103 }, /f4\.bin is 104 bytes, over the 103/],
    [{ ...roomy, maxTotalBytes: 509 }, /more than 509 bytes/],
  ] as const) {
    await assert.rejects(storage.listObjects(folder, limits), (err: Error) => err instanceof ImportTooLargeError && why.test(err.message) && (err as { code?: string }).code === 'import_too_large');
  }
  const file = join(dir, 'listed', 'f0.bin');
  await storage.downloadListed(all[0], file);
  assert.equal(readFileSync(file).length, 100);
  await storage.putBuffer(all[0].key, Buffer.alloc(100, 1)); // rewritten after the listing
  await assert.rejects(storage.downloadListed(all[0], file), (err: Error) => err instanceof ObjectChangedError && (err as { retryable?: boolean }).retryable === true);
});
