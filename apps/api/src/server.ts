// API entry point: validate config, run start-up setup (database, migrations, bucket, built-in models), listen.
import { loadConfig, ConfigError, createLogger, createDb, createRedis, Storage, Queues, EventBus, prepareDatabase, registerBuiltinModels } from '@npo/platform';
import { buildApp } from './app.ts';

async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel, 'npo-api');
  await prepareDatabase(config, logger);
  const db = createDb(config.databaseUrl, config.databaseSchema);
  const storage = new Storage(config.s3);
  await storage.ensureBucket();
  await registerBuiltinModels(config, db, storage, logger);
  const redis = createRedis(config.redisUrl, 'npo-api');
  const queues = new Queues({ connection: redis, prefix: config.queuePrefix });
  const bus = new EventBus(redis, config.redisUrl);
  const app = await buildApp({ config, db, storage, queues, redis, bus, logger });
  await app.listen({ host: config.host, port: config.port });
  const shutdown = async () => {
    await app.close();
    await queues.close();
    await bus.close();
    redis.disconnect();
    await db.$disconnect();
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
