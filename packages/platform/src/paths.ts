import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

/** The repository root, found from this file's location (packages/platform/src). */
export const REPO_ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
export const MIGRATIONS_DIR = resolve(REPO_ROOT, 'prisma/migrations');
