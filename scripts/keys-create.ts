// Creates (or revokes) an API key.
//   npm run keys:create -- --tenant <name>     prints the key once, as the LAST line of output
//   npm run keys:create -- --revoke <keyId>
import { parseArgs } from 'node:util';
import { loadConfig, createDb, createRedis, EventBus, migrateDatabase, createApiKey, revokeApiKey } from '@npo/platform';

const { values } = parseArgs({ options: { tenant: { type: 'string' }, revoke: { type: 'string' } } });
if (!values.tenant === !values.revoke) {
  console.error('usage: keys:create -- --tenant <name>   |   keys:create -- --revoke <keyId>');
  process.exit(2);
}
const config = loadConfig();
await migrateDatabase(config);
const db = createDb(config.databaseUrl, config.databaseSchema, 2);
try {
  if (values.revoke) {
    // announce it so running API processes drop the key from their auth cache at once
    const redis = createRedis(config.redisUrl, 'keys-create');
    const bus = new EventBus(redis, config.redisUrl);
    const ok = await revokeApiKey(db, values.revoke, { bus, redisKeyPrefix: config.redisKeyPrefix }).finally(async () => {
      await bus.close();
      redis.disconnect();
    });
    console.log(ok ? `revoked ${values.revoke}` : `no active key ${values.revoke}`);
    process.exitCode = ok ? 0 : 1;
  } else {
    const { keyId, tenantId, key } = await createApiKey(db, values.tenant!);
    console.log(`tenant ${values.tenant} (${tenantId}), key id ${keyId}; the key is shown once, below:`);
    console.log(key);
  }
} finally {
  await db.$disconnect();
}
