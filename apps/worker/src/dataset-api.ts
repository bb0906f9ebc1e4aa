// validateDataset from packages/diffusion's data module, loaded lazily for the same reason as the trainer.
export interface DatasetReport { rows_read: number; pairs_kept: number; dropped: Record<string, number>; warnings: string[]; samples: unknown[]; valid: boolean }
export type ValidateDataset = (path: string, format?: string) => Promise<DatasetReport>;

export async function loadValidateDataset(): Promise<ValidateDataset | null> {
  for (const spec of ['@npo/diffusion', '../../../packages/diffusion/src/data/index.ts', '../../../packages/diffusion/src/data/validate.ts']) {
    try {
      const mod = (await import(spec)) as { validateDataset?: unknown };
      if (typeof mod.validateDataset === 'function') return mod.validateDataset as ValidateDataset;
    } catch {
      // not there yet
    }
  }
  return null;
}
