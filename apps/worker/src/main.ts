// Worker entry point: validate config, run the shared start-up setup, consume the queues until signalled.
import { loadConfig, ConfigError, createLogger, createDb, createRedis, Storage, Queues, EventBus, prepareDatabase, registerBuiltinModels } from '@npo/platform';
import { startWorker } from './worker.ts';
import { realTrainer } from './trainer-api.ts';
import { validateDataset } from './dataset-api.ts';

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
  const logger = createLogger(config.logLevel, 'npo-worker');
  await prepareDatabase(config, logger);
  const db = createDb(config.databaseUrl, config.databaseSchema);
  const storage = new Storage(config.s3);
  await storage.ensureBucket();
  await registerBuiltinModels(config, db, storage, logger);
  const redis = createRedis(config.redisUrl, 'npo-worker');
  const queues = new Queues({ connection: redis, prefix: config.queuePrefix });
  const bus = new EventBus(redis, config.redisUrl);
  const running = await startWorker({ config, db, storage, queues, redis, bus, logger, trainer: realTrainer, validateDataset });
  logger.info({ concurrency: config.workerConcurrency, provider: config.executionProvider, builtinModels: config.builtinModelsDir }, 'worker started');
  const shutdown = async () => {
    await running.close();
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
