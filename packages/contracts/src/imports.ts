// Where a tenant may import a model from by S3 prefix: only below its own `imports/<tenant id>/` in the service
// bucket (operators copy or let tenants write there). Anything else is refused with the same answer whether or not it
// exists, so registration cannot probe the bucket.

export const tenantImportsRoot = (tenantId: string) => `imports/${tenantId}`;

/**
 * Bounds on a model folder, for uploads (tar entries) and imports (listed objects) alike: a diffusers folder is a few
 * large weight files and small configs.
 */
export const MODEL_FOLDER_LIMITS = { maxFiles: 10_000, maxFileBytes: 32 * 1024 ** 3, maxTotalBytes: 64 * 1024 ** 3 } as const;

/**
 * The normalised prefix (no leading or trailing `/`) if it lies inside the tenant's imports or inside one of the
 * folders the operator allowed this tenant (IMPORT_ALLOW_LIST), else null.
 */
export function scopedImportPrefix(tenantId: string, s3Prefix: string, allowed: readonly string[] = []): string | null {
  const prefix = s3Prefix.replace(/\/+$/, '');
  for (const root of [tenantImportsRoot(tenantId), ...allowed].map((r) => `${r.replace(/\/+$/, '')}/`)) {
    if (!prefix.startsWith(root)) continue;
    const rest = prefix.slice(root.length).split('/');
    if (rest.some((seg) => seg === '' || seg === '.' || seg === '..')) return null;
    return prefix;
  }
  return null;
}

/** IMPORT_ALLOW_LIST: tenant id → S3 folders (outside the service's own roots) it may import from besides its own. */
export type ImportAllowList = Readonly<Record<string, readonly string[]>>;
