import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './config.ts';
import type { Db } from './db/client.ts';
import type { Storage } from './storage.ts';
import type { Logger } from './logger.ts';
import { ensureDatabase } from './db/ensure-database.ts';
import { migrate } from './db/migrate.ts';
import { MIGRATIONS_DIR } from './paths.ts';
import { listFiles } from './storage.ts';
import { readModelFolderInfo } from './model-folder.ts';

export const BUILTIN_MODELS = ['tiny-sd'] as const;

/** Start-up work shared by the API and the worker: database, schema, bucket, built-in models. Idempotent. */
export async function prepareDatabase(config: Config, log?: Logger): Promise<void> {
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
    const prefix = `models/builtin/${name}`;
    for (const rel of await listFiles(dir)) {
      const key = `${prefix}/${rel}`;
      const head = await storage.head(key);
      if (head && head.size === statSync(join(dir, rel)).size) continue; // already uploaded
      await storage.uploadFile(key, join(dir, rel));
    }
    const info = readModelFolderInfo(dir);
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

export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}
