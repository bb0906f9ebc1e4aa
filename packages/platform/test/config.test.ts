import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, ConfigError, CONFIG_ENV_VARS } from '../src/config.ts';

test('defaults give a working local configuration', () => {
  const c = loadConfig({});
  assert.equal(c.databaseUrl, 'postgresql://postgres@127.0.0.1:5432/npo_forge');
  assert.equal(c.redisUrl, 'redis://127.0.0.1:6379');
  assert.equal(c.s3.endpoint, 'http://127.0.0.1:4569');
  assert.equal(c.s3.accessKeyId, 'S3RVER');
  assert.equal(c.port, 3000);
  assert.equal(c.executionProvider, 'cpu');
  assert.equal(c.workerConcurrency, 1);
  assert.ok(c.dataDir.endsWith('.data'));
});

test('values from the environment are parsed', () => {
  const c = loadConfig({ PORT: '8080', EXECUTION_PROVIDER: 'cuda', WORKER_CONCURRENCY: '2', S3_BUCKET: 'my-bucket', QUEUE_PREFIX: 't_1' });
  assert.equal(c.port, 8080);
  assert.equal(c.executionProvider, 'cuda');
  assert.equal(c.workerConcurrency, 2);
  assert.equal(c.s3.bucket, 'my-bucket');
  assert.equal(c.redisKeyPrefix, 't_1');
});

test('every bad variable is named in one clear message', () => {
  let err: unknown;
  try {
    loadConfig({ DATABASE_URL: 'mysql://x', PORT: 'eighty', EXECUTION_PROVIDER: 'tpu', S3_BUCKET: 'Bad_Bucket', REDIS_URL: 'not a url', WORKER_CONCURRENCY: '0' });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError);
  assert.deepEqual(err.problems.map((p) => p.name).sort(), ['DATABASE_URL', 'EXECUTION_PROVIDER', 'PORT', 'REDIS_URL', 'S3_BUCKET', 'WORKER_CONCURRENCY']);
  assert.match(err.message, /PORT must be an integer between 0 and 65535/);
  assert.match(err.message, /EXECUTION_PROVIDER must be one of cpu, cuda .*got "tpu"/);
  assert.match(err.message, /DATABASE_URL must use postgres or postgresql:\/\//);
  assert.match(err.message, /REDIS_URL must be a URL/);
});

test('an empty required value is refused, not silently defaulted', () => {
  assert.throws(() => loadConfig({ S3_ACCESS_KEY_ID: '  ' }), /S3_ACCESS_KEY_ID must not be empty/);
});

test('the variable list is complete and unique', () => {
  assert.equal(new Set(CONFIG_ENV_VARS).size, CONFIG_ENV_VARS.length);
  for (const v of ['DATABASE_URL', 'REDIS_URL', 'S3_ENDPOINT', 'S3_BUCKET', 'S3_REGION', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'PORT', 'WORKER_CONCURRENCY', 'EXECUTION_PROVIDER', 'DATA_DIR', 'QUEUE_PREFIX']) {
    assert.ok(CONFIG_ENV_VARS.includes(v), v);
  }
});

test('WORKER_QUEUES: all by default, a comma list of queue names, unknown names refused by name', () => {
  assert.deepEqual(loadConfig({}).workerQueues, ['datasets', 'models', 'train', 'samples', 'webhooks']);
  assert.deepEqual(loadConfig({ WORKER_QUEUES: 'all' }).workerQueues, ['datasets', 'models', 'train', 'samples', 'webhooks']);
  assert.deepEqual(loadConfig({ WORKER_QUEUES: 'train' }).workerQueues, ['train']);
  assert.deepEqual(loadConfig({ WORKER_QUEUES: ' datasets, models ,datasets' }).workerQueues, ['datasets', 'models']);
  for (const bad of ['', 'gpu', 'train,prepare']) {
    const err = (() => { try { loadConfig({ WORKER_QUEUES: bad }); } catch (e) { return e as Error; } })();
    assert.ok(err instanceof ConfigError, bad);
    assert.match(err.message, /WORKER_QUEUES must be "all" or a comma-separated list of datasets, models, train, samples, webhooks/);
  }
});

test('PRICE_TABLE: a currency and a price per device kind; anything else is refused by name', () => {
  assert.deepEqual(loadConfig({}).priceTable, { currency: 'USD', per_device_hour: { cpu: 0.05, cuda: 2.5 } });
  assert.deepEqual(loadConfig({ PRICE_TABLE: '{"currency":"EUR","per_device_hour":{"cuda":3}}' }).priceTable, { currency: 'EUR', per_device_hour: { cuda: 3 } });
  for (const [raw, why] of [
    ['2.5', /"currency"/], ['{"currency":"usd","per_device_hour":{"cpu":1}}', /three-letter/], ['{"currency":"USD"}', /per_device_hour/],
    ['{"currency":"USD","per_device_hour":{"cpu":-1}}', /cpu must be a number >= 0/], ['not json', /must be JSON/],
  ] as const) {
    const err = (() => { try { loadConfig({ PRICE_TABLE: raw }); } catch (e) { return e as ConfigError; } })();
    assert.ok(err instanceof ConfigError, raw);
    assert.deepEqual(err.problems.map((p) => p.name), ['PRICE_TABLE']);
    assert.match(err.message, why);
  }
});

test('IMPORT_ALLOW_LIST: tenant id → folders; folders in the service\'s own roots or with dot segments are refused', () => {
  assert.deepEqual(loadConfig({}).importAllowList, {});
  assert.deepEqual(loadConfig({ IMPORT_ALLOW_LIST: '{"ten_1":["shared/base-models/"]}' }).importAllowList, { ten_1: ['shared/base-models/'] });
  for (const raw of ['[]', '{"ten_1":"shared"}', '{"ten_1":["models/x"]}', '{"ten_1":["datasets"]}', '{"ten_1":["shared/../jobs"]}', '{"ten_1":[""]}', 'nope']) {
    const err = (() => { try { loadConfig({ IMPORT_ALLOW_LIST: raw }); } catch (e) { return e as ConfigError; } })();
    assert.ok(err instanceof ConfigError, raw);
    assert.deepEqual(err.problems.map((p) => p.name), ['IMPORT_ALLOW_LIST'], raw);
  }
});

test('NODE_ENV=production refuses unset or local-development S3 credentials, and accepts a deployment\'s own', () => {
  assert.throws(() => loadConfig({ NODE_ENV: 'production' }), (e: unknown) => e instanceof ConfigError && e.problems.map((p) => p.name).sort().join() === 'S3_ACCESS_KEY_ID,S3_SECRET_ACCESS_KEY');
  assert.throws(() => loadConfig({ NODE_ENV: 'production', S3_ACCESS_KEY_ID: 'minioadmin', S3_SECRET_ACCESS_KEY: 'minioadmin' }), /S3_SECRET_ACCESS_KEY must be set to a scoped key of this deployment when NODE_ENV=production/);
  const c = loadConfig({ NODE_ENV: 'production', S3_ACCESS_KEY_ID: 'npo-forge', S3_SECRET_ACCESS_KEY: 'a-long-random-secret' });
  assert.equal(c.s3.accessKeyId, 'npo-forge');
  assert.equal(loadConfig({}).nodeEnv, 'development');
});
