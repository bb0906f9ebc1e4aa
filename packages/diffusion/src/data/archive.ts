import { createReadStream } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { ArchiveBudget, limitsWithDefaults, safeEntryPath, type ArchiveLimits } from './archive-limits.ts';
import { extractTar } from './archive-tar.ts';
import { extractZip } from './archive-zip.ts';
import { ArchiveError } from './errors.ts';
import { detectFormat } from './format.ts';
import type { SourceRow } from './rows.ts';

/**
 * Archive datasets: a .zip, .tar or .tar.gz holding `pairs.jsonl` — one `{"prompt", "chosen", "rejected"}` per line,
 * the last two being paths of images inside the archive, relative to the folder of pairs.jsonl — and the images.
 */

export const PAIRS_FILE = 'pairs.jsonl';

export interface ExtractOptions {
  format?: 'zip' | 'tar';
  limits?: Partial<ArchiveLimits>;
}

/**
 * Extracts `archivePath` into `destDir` (created; must be empty), never writing outside it, within `limits`.
 * On any failure the folder is removed again, so a refused upload leaves nothing behind.
 */
export async function extractArchive(archivePath: string, destDir: string, opts: ExtractOptions = {}): Promise<void> {
  const limits = limitsWithDefaults(opts.limits);
  const detected = await detectFormat(archivePath);
  if (detected.format === 'parquet' || (opts.format && opts.format !== detected.format))
    throw new ArchiveError('archive_corrupt', `${archivePath} is a ${detected.gzip ? 'gzip' : detected.format} file, expected ${opts.format ?? 'zip or tar'}`);
  const { size } = await stat(archivePath);
  if (size > limits.maxArchiveBytes)
    throw new ArchiveError('archive_too_large', `archive is ${size} bytes, the limit is ${limits.maxArchiveBytes}`, { bytes: size, limit: limits.maxArchiveBytes });
  await mkdir(destDir, { recursive: true });
  if ((await readdir(destDir)).length) throw new Error(`extraction folder ${destDir} is not empty`);
  const budget = new ArchiveBudget(limits);
  try {
    if (detected.format === 'zip') await extractZip(archivePath, destDir, budget);
    else await extractTar(archivePath, destDir, budget, detected.gzip);
  } catch (e) {
    await rm(destDir, { recursive: true, force: true });
    throw e;
  }
}

/** pairs.jsonl at the root, or in the single top-level folder (what zipping a folder produces). */
export async function findPairsFile(root: string): Promise<string> {
  const atRoot = join(root, PAIRS_FILE);
  if (await isRegularFile(atRoot)) return atRoot;
  const dirs = (await readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory());
  if (dirs.length === 1) {
    const nested = join(root, dirs[0].name, PAIRS_FILE);
    if (await isRegularFile(nested)) return nested;
  }
  throw new ArchiveError('archive_missing_pairs_jsonl', `the archive has no ${PAIRS_FILE} at its root (or in its single top-level folder); add one with a {"prompt", "chosen", "rejected"} object per line`);
}

async function isRegularFile(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isFile();
  } catch {
    return false;
  }
}

async function readImage(base: string, ref: string): Promise<Uint8Array | string> {
  let path: string;
  try {
    path = safeEntryPath(base, ref);
  } catch (e) {
    return `image path ${JSON.stringify(ref)} is not inside the archive`;
  }
  // quoted as JSON: a NUL or a lone surrogate in the path shows as an escape (the reason is stored as jsonb)
  if (!(await isRegularFile(path))) return `image ${JSON.stringify(ref)} is not in the archive`;
  return new Uint8Array(await readFile(path));
}

/** Yields the pairs of an extracted archive in line order; `index` is the 0-based line number. */
export async function* readExtractedPairs(root: string): AsyncGenerator<SourceRow> {
  const pairsFile = await findPairsFile(root);
  const base = dirname(pairsFile);
  const lines = createInterface({ input: createReadStream(pairsFile, 'utf8'), crlfDelay: Infinity });
  let index = -1;
  for await (const line of lines) {
    index++;
    if (line.trim() === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (e) {
      yield { index, reason: 'malformed_row', detail: `line ${index + 1} is not valid JSON: ${(e as Error).message}` };
      continue;
    }
    if (!row || typeof row !== 'object' || Array.isArray(row)) {
      yield { index, reason: 'malformed_row', detail: `line ${index + 1} is not a JSON object` };
      continue;
    }
    const { prompt, chosen, rejected } = row as Record<string, unknown>;
    const missing = [
      typeof prompt === 'string' && prompt.trim() !== '' ? '' : 'prompt',
      typeof chosen === 'string' && chosen !== '' ? '' : 'chosen',
      typeof rejected === 'string' && rejected !== '' ? '' : 'rejected',
    ].filter(Boolean);
    if (missing.length) {
      yield { index, reason: 'missing_field', detail: `missing, empty or not a string: ${missing.join(', ')}` };
      continue;
    }
    const chosenBytes = await readImage(base, chosen as string);
    const rejectedBytes = await readImage(base, rejected as string);
    const problem = [chosenBytes, rejectedBytes].find((r) => typeof r === 'string');
    if (problem !== undefined) {
      yield { index, reason: 'missing_field', detail: problem as string };
      continue;
    }
    yield { index, prompt: prompt as string, chosen: chosenBytes as Uint8Array, rejected: rejectedBytes as Uint8Array };
  }
}

/**
 * Extracts into a fresh scratch folder (under `scratchRoot`, default the OS temp dir), yields the pairs, and removes
 * the folder when iteration ends or stops early.
 */
export async function* readArchivePairs(
  archivePath: string,
  opts: ExtractOptions & { scratchRoot?: string } = {},
): AsyncGenerator<SourceRow> {
  const scratch = await mkdtemp(join(opts.scratchRoot ?? tmpdir(), 'npo-archive-'));
  try {
    const dest = join(scratch, 'x');
    await extractArchive(archivePath, dest, opts);
    yield* readExtractedPairs(dest);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
