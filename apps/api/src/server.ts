// API entry point: validate config, run start-up setup (database, migrations, bucket, built-in models), listen.
import { onShutdown, startProcessServices } from '@npo/platform';
import { buildApp } from './app.ts';

async function main() {
  const services = await startProcessServices('npo-api', { failFastRedis: true });
  const app = await buildApp(services);
  await app.listen({ host: services.config.host, port: services.config.port });
  onShutdown(async () => {
    await app.close();
    await services.close();
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
