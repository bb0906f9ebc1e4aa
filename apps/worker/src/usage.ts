import { UsageMeter, type UsageOwner } from '@npo/platform';
import type { WorkerDeps } from './deps.ts';

/** The meter of one run on this worker: its device kind is the worker's execution provider, priced by PRICE_TABLE. */
export const usageMeter = (deps: WorkerDeps, owner: UsageOwner) =>
  new UsageMeter({ db: deps.db, priceTable: deps.config.priceTable, deviceKind: deps.config.executionProvider, logger: deps.logger }, owner);
