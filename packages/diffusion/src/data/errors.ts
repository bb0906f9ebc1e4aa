/**
 * Errors that stop a whole dataset (as opposed to a dropped row): a malicious or oversized archive, a file that is
 * not a dataset at all. Each carries a stable `code` the API can return as-is; `details` holds the numbers behind it.
 */
export type DatasetErrorCode =
  | 'archive_path_traversal'
  | 'archive_link_entry'
  | 'archive_unsupported_entry'
  | 'archive_duplicate_entry'
  | 'archive_too_many_entries'
  | 'archive_too_large'
  | 'archive_entry_too_large'
  | 'archive_bomb'
  | 'archive_corrupt'
  | 'archive_missing_pairs_jsonl'
  | 'parquet_missing_column'
  | 'parquet_corrupt'
  | 'unknown_format'
  | 'prepare_empty'
  | 'prepare_mismatch'
  | 'shards_corrupt';

export class DatasetError extends Error {
  constructor(
    readonly code: DatasetErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DatasetError';
  }
}

/** Archive problems: a subclass so callers can tell "the upload is hostile or broken" from other dataset errors. */
export class ArchiveError extends DatasetError {
  constructor(code: DatasetErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.name = 'ArchiveError';
  }
}
