import { open } from 'node:fs/promises';
import { DatasetError } from './errors.ts';

export type DatasetFormat = 'parquet' | 'zip' | 'tar';

/** What the first bytes say: parquet `PAR1`, zip `PK\x03\x04` (or an empty zip's `PK\x05\x06`), tar `ustar` at 257, gzip 1f 8b. */
export interface DetectedFormat {
  format: DatasetFormat;
  /** A gzip stream, assumed to hold a tar (.tar.gz / .tgz). */
  gzip: boolean;
}

export function formatFromMagic(head: Uint8Array): DetectedFormat | undefined {
  const ascii = (from: number, len: number) => Buffer.from(head.subarray(from, from + len)).toString('latin1');
  if (ascii(0, 4) === 'PAR1') return { format: 'parquet', gzip: false };
  if (ascii(0, 4) === 'PK\x03\x04' || ascii(0, 4) === 'PK\x05\x06') return { format: 'zip', gzip: false };
  if (head[0] === 0x1f && head[1] === 0x8b) return { format: 'tar', gzip: true };
  if (ascii(257, 5) === 'ustar') return { format: 'tar', gzip: false };
  return undefined;
}

export async function detectFormat(path: string): Promise<DetectedFormat> {
  const handle = await open(path, 'r');
  try {
    const head = new Uint8Array(512);
    const { bytesRead } = await handle.read(head, 0, 512, 0);
    const found = formatFromMagic(head.subarray(0, bytesRead));
    if (!found)
      throw new DatasetError('unknown_format', `${path} is not a parquet, zip, tar or tar.gz file (its first bytes match none of them)`);
    return found;
  } finally {
    await handle.close();
  }
}
