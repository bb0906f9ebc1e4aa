import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.ts';

export type Db = InstanceType<typeof PrismaClient>;
export { Prisma } from '../generated/prisma/client.ts';

// Prisma 7 with the pg driver adapter: no Rust query engine at run time. `schema` lets tests use one
// Postgres schema per test file.
export function createDb(databaseUrl: string, schema = 'public', poolMax = 10): Db {
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: poolMax }, { schema });
  return new PrismaClient({ adapter });
}
