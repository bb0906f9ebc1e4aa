import { parquetMetadataAsync, parquetRead, parquetSchema, type FileMetaData } from 'hyparquet';
import { DatasetError } from './errors.ts';
import { openFileAsyncBuffer } from './file-buffer.ts';
import type { SourceRow } from './rows.ts';

/**
 * Pick-a-Pic style preference parquet: `caption` (string), `jpg_0`, `jpg_1` (encoded image bytes), `label_0`
 * (1 → jpg_0 won, 0 → jpg_1 won, 0.5 → tie). Rows stream one row group at a time through a ranged file reader, so
 * memory is bounded by the largest row group, not the file.
 */

export const PICK_A_PIC_COLUMNS = ['caption', 'jpg_0', 'jpg_1', 'label_0'] as const;

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Image cells are raw bytes, or (Hugging Face `Image` feature) a struct `{bytes, path}`. */
function imageBytes(value: unknown): Uint8Array | undefined {
  if (value instanceof Uint8Array) return value;
  if (value && typeof value === 'object' && (value as { bytes?: unknown }).bytes instanceof Uint8Array)
    return (value as { bytes: Uint8Array }).bytes;
  return undefined;
}

function captionText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return utf8.decode(value);
  return undefined;
}

function labelNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  return undefined;
}

/** Turns one parquet row into a pair or a drop. Exported for the tests of the rules themselves. */
export function pickAPicRow(index: number, row: Record<string, unknown>): SourceRow {
  const label = labelNumber(row.label_0);
  if (label === 0.5) return { index, reason: 'tie', detail: 'label_0 is 0.5 (tie): no preference to learn from' };
  const prompt = captionText(row.caption);
  const jpg0 = imageBytes(row.jpg_0);
  const jpg1 = imageBytes(row.jpg_1);
  const missing = [
    prompt === undefined || prompt.trim() === '' ? 'caption' : '',
    jpg0 ? '' : 'jpg_0',
    jpg1 ? '' : 'jpg_1',
    label === undefined ? 'label_0' : '',
  ].filter(Boolean);
  if (missing.length) return { index, reason: 'missing_field', detail: `missing or empty: ${missing.join(', ')}` };
  if (label !== 0 && label !== 1)
    return { index, reason: 'malformed_row', detail: `label_0 is ${label}; expected 1 (jpg_0 won), 0 (jpg_1 won) or 0.5 (tie)` };
  return label === 1
    ? { index, prompt: prompt!, chosen: jpg0!, rejected: jpg1! }
    : { index, prompt: prompt!, chosen: jpg1!, rejected: jpg0! };
}

export interface ParquetInfo {
  rows: number;
  rowGroups: number;
  columns: string[];
}

async function readMetadata(path: string, file: Awaited<ReturnType<typeof openFileAsyncBuffer>>): Promise<FileMetaData> {
  try {
    return await parquetMetadataAsync(file);
  } catch (e) {
    throw new DatasetError('parquet_corrupt', `${path} is not a readable parquet file: ${(e as Error).message}`);
  }
}

function checkColumns(path: string, metadata: FileMetaData): string[] {
  const columns = parquetSchema(metadata).children.map((c) => c.element.name);
  const absent = PICK_A_PIC_COLUMNS.filter((c) => !columns.includes(c));
  if (absent.length)
    throw new DatasetError(
      'parquet_missing_column',
      `${path} lacks column(s) ${absent.join(', ')}; a preference parquet needs ${PICK_A_PIC_COLUMNS.join(', ')} (it has ${columns.join(', ')})`,
      { missing: absent, present: columns },
    );
  return columns;
}

export async function parquetInfo(path: string): Promise<ParquetInfo> {
  const file = await openFileAsyncBuffer(path);
  try {
    const metadata = await readMetadata(path, file);
    return { rows: Number(metadata.num_rows), rowGroups: metadata.row_groups.length, columns: checkColumns(path, metadata) };
  } finally {
    await file.close();
  }
}

/** Yields every row of a Pick-a-Pic parquet file in order, as a pair or a drop with its reason. */
export async function* readPickAPicParquet(path: string): AsyncGenerator<SourceRow> {
  const file = await openFileAsyncBuffer(path);
  try {
    const metadata = await readMetadata(path, file);
    checkColumns(path, metadata);
    let groupStart = 0;
    for (const group of metadata.row_groups) {
      const groupRows = Number(group.num_rows);
      let rows: Record<string, unknown>[] = [];
      try {
        await parquetRead({
          file,
          metadata,
          columns: [...PICK_A_PIC_COLUMNS],
          rowStart: groupStart,
          rowEnd: groupStart + groupRows,
          rowFormat: 'object',
          utf8: false, // image columns are BYTE_ARRAY without annotation: keep them as bytes
          onComplete: (data) => (rows = data as Record<string, unknown>[]),
        });
      } catch (e) {
        throw new DatasetError('parquet_corrupt', `${path}: row group at row ${groupStart} could not be read: ${(e as Error).message}`);
      }
      for (let i = 0; i < rows.length; i++) yield pickAPicRow(groupStart + i, rows[i]);
      rows = [];
      groupStart += groupRows;
    }
  } finally {
    await file.close();
  }
}
