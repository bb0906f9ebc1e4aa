// Worker entry point: validate config, run the shared start-up setup, consume the queues until signalled.
import { assertExecutionProviderAvailable } from '@npo/graph';
import { onShutdown, startProcessServices } from '@npo/platform';
import { startWorker } from './queue-consumers.ts';
import { realTrainer } from './trainer-api.ts';
import { validateDataset } from './dataset-api.ts';

async function main() {
  const services = await startProcessServices('npo-worker');
  const { config, logger } = services;
  // A GPU worker that cannot load its provider must not take jobs (and must never train on CPU instead).
  try {
    assertExecutionProviderAvailable(config.executionProvider);
  } catch (err) {
    await services.close();
    throw err;
  }
  const running = await startWorker({ ...services, trainer: realTrainer, validateDataset });
  logger.info({ concurrency: config.workerConcurrency, provider: config.executionProvider, builtinModels: config.builtinModelsDir }, 'worker started');
  onShutdown(async () => {
    await running.close();
    await services.close();
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
