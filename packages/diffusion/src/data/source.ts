import { readArchivePairs } from './archive.ts';
import type { ArchiveLimits } from './archive-limits.ts';
import { detectFormat, type DatasetFormat } from './format.ts';
import { readPickAPicParquet } from './parquet.ts';
import type { SourceRow } from './rows.ts';

export interface SourceOptions {
  /** Detected from the file's first bytes when not given. */
  format?: DatasetFormat;
  archiveLimits?: Partial<ArchiveLimits>;
  /** Where archives are extracted (a fresh folder below it, removed afterwards); default the OS temp dir. */
  scratchRoot?: string;
}

/** The rows of a dataset file of any supported format, in file order. */
export async function openDatasetRows(path: string, opts: SourceOptions = {}): Promise<{ format: DatasetFormat; rows: AsyncGenerator<SourceRow> }> {
  const format = opts.format ?? (await detectFormat(path)).format;
  const rows =
    format === 'parquet'
      ? readPickAPicParquet(path)
      : readArchivePairs(path, { format, limits: opts.archiveLimits, scratchRoot: opts.scratchRoot });
  return { format, rows };
}

/** Only the usable pairs (drops skipped): the usual input of encodeShards. */
export async function* pairsOnly(rows: AsyncIterable<SourceRow>): AsyncGenerator<Extract<SourceRow, { prompt: string }>> {
  for await (const row of rows) if (!('reason' in row)) yield row;
}
