import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.ts';

export type Db = InstanceType<typeof PrismaClient>;
export { Prisma } from '../generated/prisma/client.ts';
/** Rows as Prisma returns them (every column), for code that maps rows to API shapes. */
export type {
  Dataset as DatasetRow, Model as ModelRow, Job as JobRow, JobEvent as JobEventRow, Checkpoint as CheckpointRow, SampleSet as SampleSetRow,
  WebhookEndpoint as WebhookEndpointRow, WebhookDelivery as WebhookDeliveryRow, WebhookAttempt as WebhookAttemptRow,
} from '../generated/prisma/client.ts';

// Prisma 7 with the pg driver adapter: no Rust query engine at run time. `schema` lets tests use one
// Postgres schema per test file.
export function createDb(databaseUrl: string, schema = 'public', poolMax = 10): Db {
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: poolMax }, { schema });
  return new PrismaClient({ adapter });
}
