import { createHash } from 'node:crypto';
import { decodedPixelHash, type Background, type ImageLimits } from './images.ts';
import { DROP_REASONS, isDropped, type DroppedRow, type DropReason, type PairRow, type SourceRow } from './rows.ts';
import { openDatasetRows, type SourceOptions } from './source.ts';
import type { DatasetFormat } from './format.ts';

export interface ValidateOptions extends SourceOptions {
  /** Tokens in a prompt (e.g. the CLIP tokenizer's count, with BOS/EOS); with `maxTokens`, longer prompts are warned about. */
  countTokens?: (prompt: string) => number;
  /** Prompts longer than this are truncated at encoding time: a warning, not a drop. Default 77 (CLIP). */
  maxTokens?: number;
  imageLimits?: Partial<ImageLimits>;
  background?: Background;
  /** How many offending rows to show in `samples`. Default 20. */
  maxSamples?: number;
  /** Rows checked concurrently. Default 4. */
  concurrency?: number;
  signal?: AbortSignal;
  /**
   * Decoded-pixel results by image bytes (sha256), so an image many rows refer to is decoded once per validation.
   * Default: a fresh one per call, bounded to DECODE_CACHE_ENTRIES.
   */
  decodeCache?: Map<string, ReturnType<typeof decodedPixelHash>>;
}

/** Prompts longer than this are reported: far more text than a 77-token CLIP encoder reads (it is cut when encoded). */
export const PROMPT_REPORT_CHARS = 1000;
/** Distinct images whose decode results one validation keeps. */
export const DECODE_CACHE_ENTRIES = 10_000;

export interface ValidationReport {
  format: DatasetFormat;
  rows_read: number;
  pairs_kept: number;
  dropped: Record<DropReason, number>;
  /**
   * prompt_truncated: over `maxTokens` by `countTokens`; prompt_over_long: over PROMPT_REPORT_CHARS characters (only
   * what model_max_length tokens hold is encoded), with the first such rows in prompt_over_long_rows.
   */
  warnings: { prompt_truncated: number; prompt_over_long: number; prompt_over_long_rows: number[] };
  /** The first offending rows, in file order. */
  samples: DroppedRow[];
  /** At least one usable pair. */
  valid: boolean;
}

/**
 * The checks a pair must pass beyond what the reader already checked: both images decodable and within limits, and
 * not the same image twice (same bytes, or different bytes decoding to the same pixels).
 */
export async function checkPair(pair: PairRow, opts: Pick<ValidateOptions, 'imageLimits' | 'background' | 'decodeCache'> = {}): Promise<DroppedRow | undefined> {
  const { index } = pair;
  if (Buffer.compare(pair.chosen, pair.rejected) === 0) return { index, reason: 'identical_images', detail: 'chosen and rejected are the same bytes' };
  const imageOpts = { ...opts.imageLimits, background: opts.background };
  const decode = (bytes: Uint8Array) => {
    if (!opts.decodeCache) return decodedPixelHash(bytes, imageOpts);
    const key = createHash('sha256').update(bytes).digest('hex');
    let result = opts.decodeCache.get(key);
    if (!result) {
      // the promise is kept, so rows checked side by side share one decode too
      if (opts.decodeCache.size >= DECODE_CACHE_ENTRIES) opts.decodeCache.clear();
      result = decodedPixelHash(bytes, imageOpts);
      opts.decodeCache.set(key, result);
    }
    return result;
  };
  const [chosen, rejected] = await Promise.all([decode(pair.chosen), decode(pair.rejected)]);
  if (!chosen.ok) return { index, reason: chosen.reason, detail: `chosen image: ${chosen.detail}` };
  if (!rejected.ok) return { index, reason: rejected.reason, detail: `rejected image: ${rejected.detail}` };
  if (chosen.hash === rejected.hash) return { index, reason: 'identical_images', detail: 'chosen and rejected decode to the same pixels' };
  return undefined;
}

function emptyReport(format: DatasetFormat): ValidationReport {
  return {
    format,
    rows_read: 0,
    pairs_kept: 0,
    dropped: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>,
    warnings: { prompt_truncated: 0, prompt_over_long: 0, prompt_over_long_rows: [] },
    samples: [],
    valid: false,
  };
}

/** The report of a validation that could not read the file, or did not finish: nothing read, and why. */
export function unfinishedValidationReport(format: DatasetFormat, error: string): ValidationReport & { error: string } {
  return { ...emptyReport(format), error };
}

/** Reads a whole dataset and says what would be kept, what dropped and why, without preparing anything. */
export async function validateDataset(path: string, format?: DatasetFormat, opts: ValidateOptions = {}): Promise<ValidationReport> {
  const opened = await openDatasetRows(path, { ...opts, format: format ?? opts.format });
  const report = emptyReport(opened.format);
  const checkOpts = { ...opts, decodeCache: opts.decodeCache ?? new Map() };
  const maxSamples = opts.maxSamples ?? 20;
  const maxTokens = opts.maxTokens ?? 77;
  const record = (row: SourceRow, drop: DroppedRow | undefined) => {
    report.rows_read++;
    if (drop) {
      report.dropped[drop.reason]++;
      if (report.samples.length < maxSamples) report.samples.push(drop);
      return;
    }
    report.pairs_kept++;
    const { prompt } = row as PairRow;
    if (prompt.length > PROMPT_REPORT_CHARS) {
      report.warnings.prompt_over_long++;
      if (report.warnings.prompt_over_long_rows.length < maxSamples) report.warnings.prompt_over_long_rows.push(row.index);
    }
    if (opts.countTokens && opts.countTokens(prompt) > maxTokens) report.warnings.prompt_truncated++;
  };

  // Rows are checked a window at a time (decoding dominates) and recorded in file order.
  const window: SourceRow[] = [];
  const flush = async () => {
    const drops = await Promise.all(window.map((row) => (isDropped(row) ? row : checkPair(row, checkOpts))));
    window.forEach((row, i) => record(row, drops[i]));
    window.length = 0;
  };
  for await (const row of opened.rows) {
    opts.signal?.throwIfAborted();
    window.push(row);
    if (window.length >= (opts.concurrency ?? 4)) await flush();
  }
  await flush();
  report.valid = report.pairs_kept > 0;
  return report;
}
