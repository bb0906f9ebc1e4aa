import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { S3Keys, sha256File } from '@npo/contracts';
import type { Config } from './config.ts';
import { createDb, type Db } from './db/client.ts';
import { Storage } from './storage.ts';
import type { Logger } from './logger.ts';
import { ensureDatabase } from './db/ensure-database.ts';
import { migrate } from './db/migrate.ts';
import { MIGRATIONS_DIR } from './paths.ts';
import { listFiles } from './storage.ts';
// the one model-folder reader; its subpath export loads no onnxruntime
import { readModelFolder } from '@npo/diffusion/model-folder';

export const BUILTIN_MODELS = ['tiny-sd'] as const;

/** Start-up work shared by the API and the worker: database, schema, bucket, built-in models. Idempotent. */
export async function migrateDatabase(config: Config, log?: Logger): Promise<void> {
  if (await ensureDatabase(config.databaseUrl)) log?.info({ url: redact(config.databaseUrl) }, 'created database');
  const res = await migrate({ databaseUrl: config.databaseUrl, schema: config.databaseSchema, migrationsDir: MIGRATIONS_DIR });
  if (res.applied.length) log?.info({ applied: res.applied }, 'applied migrations');
}

/** Uploads models/<name>/ (when present in the checkout) to S3 under models/builtin/<name>/ and upserts a ready row visible to every tenant. */
export async function registerBuiltinModels(config: Config, db: Db, storage: Storage, log?: Logger): Promise<string[]> {
  const done: string[] = [];
  for (const name of BUILTIN_MODELS) {
    const dir = join(config.builtinModelsDir, name);
    if (!existsSync(join(dir, 'unet', 'config.json'))) continue;
    const prefix = S3Keys.builtinModel(name);
    const hashes: string[] = [];
    for (const rel of (await listFiles(dir)).sort()) {
      const key = `${prefix}/${rel}`;
      const sha256 = await sha256File(join(dir, rel));
      hashes.push(`${rel}:${sha256}`);
      // compared by content, not size: a retrained UNet has the same size as the one it replaces
      const head = await storage.head(key);
      if (head && head.size === statSync(join(dir, rel)).size && head.metadata.sha256 === sha256) continue;
      await storage.uploadFile(key, join(dir, rel), { sha256 });
    }
    // names this version of the files: workers cache a model's download (and key prepared shards) under it
    const info = { ...readModelFolder(dir).info, files_sha256: createHash('sha256').update(hashes.join('\n')).digest('hex') };
    await db.model.upsert({
      where: { id: name },
      create: { id: name, tenant_id: null, name, source: 'builtin', s3_prefix: prefix, status: 'ready', info: { ...info } },
      update: { status: 'ready', s3_prefix: prefix, info: { ...info }, errors: undefined },
    });
    log?.info({ model: name, prefix }, 'registered built-in model');
    done.push(name);
  }
  return done;
}

/**
 * The one-time start-up work of `npm start` (and of the demo) before any process starts: database and migrations,
 * the bucket, the built-in models. Returns the names of the built-in models registered.
 */
export async function setupServices(config: Config, log?: Logger): Promise<string[]> {
  await migrateDatabase(config, log);
  const db = createDb(config.databaseUrl, config.databaseSchema, 2);
  const storage = new Storage(config.s3);
  try {
    await storage.ensureBucket();
    return await registerBuiltinModels(config, db, storage, log);
  } finally {
    await db.$disconnect();
    storage.destroy();
  }
}

export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}
