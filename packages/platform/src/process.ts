import { ConfigError, loadConfig, type Config } from './config.ts';
import { createDb, type Db } from './db/client.ts';
import { createLogger, type Logger } from './logger.ts';
import { EventBus } from './pubsub.ts';
import { Queues } from './queues.ts';
import { createRedis, redisReady, type Redis } from './redis.ts';
import { migrateDatabase, registerBuiltinModels } from './setup.ts';
import { Storage } from './storage.ts';

const REDIS_START_WAIT_MS = 10_000;

/** The configuration from the environment, or exit 2 with a message naming every bad or missing variable. */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}

/** The connections both apps work with; their dependency types extend this. */
export interface Connections {
  config: Config;
  db: Db;
  storage: Storage;
  redis: Redis;
  queues: Queues;
  bus: EventBus;
}

/** What an API or worker process holds open, with one `close()`. */
export interface ProcessServices extends Connections {
  logger: Logger;
  close(): Promise<void>;
}

/** Config, start-up setup (database, migrations, bucket, built-in models) and connections, for a process called `name`. */
export async function startProcessServices(name: string, o: { failFastRedis?: boolean } = {}): Promise<ProcessServices> {
  const config = loadConfigOrExit();
  const logger = createLogger(config.logLevel, name);
  await migrateDatabase(config, logger);
  const db = createDb(config.databaseUrl, config.databaseSchema);
  const storage = new Storage(config.s3);
  await storage.ensureBucket();
  await registerBuiltinModels(config, db, storage, logger);
  const redis = createRedis(config.redisUrl, name, { failFast: o.failFastRedis });
  if (o.failFastRedis && !(await redisReady(redis, REDIS_START_WAIT_MS))) logger.warn({ redis: config.redisUrl }, 'Redis is not reachable yet: requests answer 503 until it is');
  const queues = new Queues({ connection: redis, prefix: config.redisKeyPrefix });
  const bus = new EventBus(redis, config.redisUrl);
  return {
    config, logger, db, storage, redis, queues, bus,
    close: async () => {
      await queues.close();
      await bus.close();
      redis.disconnect();
      await db.$disconnect();
      storage.destroy();
    },
  };
}

/** Runs `stop` once on the first SIGINT or SIGTERM, then exits. */
export function onShutdown(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = async () => {
    if (stopping) return;
    stopping = true;
    await stop();
    process.exit(0);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
