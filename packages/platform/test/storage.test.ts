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
