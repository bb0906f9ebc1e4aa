import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  newId, encodeCursor, decodeCursor, NotFoundError, ConflictError, NpoError, InputError, RateLimitedError, TransientError, isRetryable,
  JOB_STATES, TERMINAL_STATES, RUNNING_STATES, ACTIVE_STATES, S3Keys, sha256File,
} from '../src/index.ts';

test('ids sort by creation time and cursors round-trip', async () => {
  const a = newId('job');
  await new Promise((r) => setTimeout(r, 2));
  const b = newId('job');
  assert.match(a, /^job_[0-9a-f]{28}$/);
  assert.ok(a < b);
  assert.equal(decodeCursor(encodeCursor(a)), a);
  assert.equal(decodeCursor(encodeCursor('tiny-sd')), 'tiny-sd');
  assert.equal(decodeCursor(Buffer.from("x' OR 1=1").toString('base64url')), null);
});

test('errors carry stable codes and statuses', () => {
  const nf = new NotFoundError('job', 'job_1');
  assert.ok(nf instanceof NpoError && nf instanceof InputError);
  assert.equal(nf.retryable, false);
  assert.equal(nf.status, 404);
  assert.deepEqual(nf.toBody(), { error: { code: 'not_found', message: 'job job_1 not found', details: { resource: 'job', id: 'job_1' } } });
  assert.equal(new ConflictError('x', 'idempotency_conflict').toBody().error.code, 'idempotency_conflict');
});

test('one error hierarchy: input errors are final, transient ones are retried', () => {
  assert.equal(isRetryable(new ConflictError('x')), false);
  assert.equal(isRetryable(new RateLimitedError('slow down')), true);
  assert.ok(new RateLimitedError('x') instanceof TransientError);
  assert.equal(new RateLimitedError('x').status, 429);
  assert.equal(isRetryable(new Error('socket hang up')), true, 'an unnamed failure may be an outage');
});

test('job states: one list, the sets follow from it', () => {
  assert.deepEqual(JOB_STATES, ['queued', 'preparing', 'compiling', 'training', 'cancelling', 'succeeded', 'failed', 'cancelled']);
  assert.deepEqual(TERMINAL_STATES, ['succeeded', 'failed', 'cancelled']);
  assert.deepEqual(RUNNING_STATES, ['preparing', 'compiling', 'training']);
  assert.deepEqual(ACTIVE_STATES, ['queued', 'preparing', 'compiling', 'training', 'cancelling']);
});

test('S3 keys: one builder per object; the adapter file name comes from one place', () => {
  assert.equal(S3Keys.checkpointAdapter(S3Keys.checkpoint('job_1', 5)), 'jobs/job_1/checkpoints/step-5/adapter_model.safetensors');
  assert.equal(S3Keys.datasetFile('ds_1', 'zip'), 'datasets/ds_1/data.zip');
  assert.ok(S3Keys.modelFiles('mdl_1').startsWith(`${S3Keys.model('mdl_1')}/`));
  assert.equal(S3Keys.modelUpload('mdl_1', '.TAR.GZ'), 'models/mdl_1/upload.tar.gz');
});

test('sha256File hashes a file as createHash hashes its bytes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sha256-file-'));
  try {
    const bytes = Buffer.alloc(200_000, 7); // more than one read-stream chunk (64 KiB)
    writeFileSync(join(dir, 'f'), bytes);
    assert.equal(await sha256File(join(dir, 'f')), createHash('sha256').update(bytes).digest('hex'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
