import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createApiKey, type Db } from '@npo/platform';
import { newId } from '@npo/contracts';
import { createTestContext, type TestContext } from '../../../packages/platform/src/testing.ts';
import { buildApp } from '../src/app.ts';

export interface TestApi {
  ctx: TestContext;
  app: FastifyInstance;
  keyA: string;
  keyB: string;
  tenantA: string;
  tenantB: string;
  keyIdA: string;
  close: () => Promise<void>;
}

export async function createTestApi(name: string, overrides: Record<string, string> = {}): Promise<TestApi> {
  const ctx = await createTestContext(name, overrides);
  const app = await buildApp({ config: ctx.config, db: ctx.db, storage: ctx.storage, queues: ctx.queues, redis: ctx.redis, bus: ctx.bus, logger: false });
  await app.ready();
  const a = await createApiKey(ctx.db, 'tenant-a');
  const b = await createApiKey(ctx.db, 'tenant-b');
  return {
    ctx, app, keyA: a.key, keyB: b.key, tenantA: a.tenantId, tenantB: b.tenantId, keyIdA: a.keyId,
    close: async () => {
      await app.close();
      await ctx.close();
    },
  };
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** A multipart/form-data body with optional fields and one file, for app.inject. */
export function multipart(filename: string, content: Buffer, fields: Record<string, string> = {}, field = 'file') {
  const boundary = `----npo${randomBytes(8).toString('hex')}`;
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields)) parts.push(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  parts.push(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${field}"; filename="${filename}"\r\ncontent-type: application/octet-stream\r\n\r\n`));
  parts.push(content, Buffer.from(`\r\n--${boundary}--\r\n`));
  return { payload: Buffer.concat(parts), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * Seeds a ready model owned by `tenantId` and a ready dataset, as the worker would leave them after validation
 * (validation itself is tested in apps/worker). Returns their ids.
 */
export async function seedReady(db: Db, tenantId: string, opts: { pixelSpace?: boolean; sampleSize?: number; datasetStatus?: string } = {}) {
  const model = newId('mdl');
  const dataset = newId('ds');
  await db.model.create({ data: { id: model, tenant_id: tenantId, name: 'seed', source: 's3', s3_prefix: 'seed/model', status: 'ready', info: { pixelSpace: opts.pixelSpace ?? true, sampleSize: opts.sampleSize ?? 32, hasVae: !(opts.pixelSpace ?? true) } } });
  await db.dataset.create({ data: { id: dataset, tenant_id: tenantId, name: 'seed', format: 'parquet', status: opts.datasetStatus ?? 'ready', s3_key: `datasets/${dataset}/data.parquet`, size_bytes: 10n } });
  return { model, dataset };
}
