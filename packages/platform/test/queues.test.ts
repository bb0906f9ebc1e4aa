import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoffs, type MinimalJob } from 'bullmq';
import { DEFAULT_JOB_OPTIONS } from '../src/queues.ts';

// Outages: a job's retries must outlast a Redis, Postgres or S3 outage of 5 minutes, by BullMQ's own arithmetic.
test('retries: 8 attempts, 5 s doubling, spread over more than 5 minutes (10.6 min)', async () => {
  const { attempts, backoff } = DEFAULT_JOB_OPTIONS;
  assert.equal(attempts, 8);
  const delays: number[] = [];
  for (let made = 1; made < attempts; made++) delays.push(Number(await Backoffs.calculate(Backoffs.normalize(backoff)!, made, new Error('outage'), {} as MinimalJob)));
  assert.deepEqual(delays, [5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000]);
  const total = delays.reduce((a, b) => a + b, 0);
  assert.ok(total > 5 * 60_000, `${total} ms`);
  assert.equal(total, 635_000);
});
