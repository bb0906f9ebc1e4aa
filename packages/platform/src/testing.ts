import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig, type Config } from './config.ts';
import { createDb, type Db } from './db/client.ts';
import { migrateDatabase } from './setup.ts';
import { Storage } from './storage.ts';
import { createRedis, type Redis } from './redis.ts';
import { Queues } from './queues.ts';
import { EventBus } from './pubsub.ts';
import { createLogger, type Logger } from './logger.ts';

// Integration-test context over the real services (scripts/services.sh): a fresh Postgres schema, a unique
// queue/key prefix and a scratch DATA_DIR per test file, so test files can run in parallel.
export interface TestContext {
  config: Config;
  env: Record<string, string>;
  db: Db;
  storage: Storage;
  redis: Redis;
  queues: Queues;
  bus: EventBus;
  logger: Logger;
  close: () => Promise<void>;
}

export async function createTestContext(name: string, overrides: Record<string, string> = {}): Promise<TestContext> {
  const tag = `${name.replace(/[^a-z0-9]/gi, '').toLowerCase().slice(0, 20)}_${randomBytes(4).toString('hex')}`;
  const dataDir = mkdtempSync(join(tmpdir(), `npo-${tag}-`));
  const env: Record<string, string> = {
    DATABASE_SCHEMA: `t_${tag}`,
    QUEUE_PREFIX: `t_${tag}`,
    DATA_DIR: dataDir,
    S3_BUCKET: 'npo-forge-test',
    STALLED_INTERVAL_MS: '1000',
    LOCK_DURATION_MS: '3000',
    LOG_LEVEL: 'silent',
    BUILTIN_MODELS_DIR: join(dataDir, 'no-builtin-models'),
    ...overrides,
  };
  const config = loadConfig({ ...process.env, ...env });
  await migrateDatabase(config);
  const db = createDb(config.databaseUrl, config.databaseSchema, 5);
  const storage = new Storage(config.s3);
  await storage.ensureBucket();
  const redis = createRedis(config.redisUrl, `test-${tag}`);
  const queues = new Queues({ connection: redis, prefix: config.redisKeyPrefix });
  const bus = new EventBus(redis, config.redisUrl);
  const logger = createLogger('silent', tag);
  const close = async () => {
    await queues.close().catch(() => {});
    await bus.close();
    const keys = await redis.keys(`${config.redisKeyPrefix}:*`);
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
    redis.disconnect();
    await db.$disconnect();
    const client = new pg.Client({ connectionString: config.databaseUrl });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${config.databaseSchema}" CASCADE`);
    await client.end();
    storage.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { config, env, db, storage, redis, queues, bus, logger, close };
}
