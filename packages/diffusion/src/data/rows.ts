/** One usable preference pair as read from a dataset file: the prompt and the encoded bytes of both images. */
export interface PairRow {
  /** Position of the row in the source (parquet row number, or line number of pairs.jsonl), for error reports. */
  index: number;
  prompt: string;
  chosen: Uint8Array;
  rejected: Uint8Array;
}

/** Why a row was dropped. Stable strings: they are the keys of ValidationReport.dropped. */
export type DropReason =
  | 'tie'
  | 'missing_field'
  | 'malformed_row'
  | 'empty_image'
  | 'undecodable_image'
  | 'image_too_large'
  | 'identical_images';

export const DROP_REASONS: readonly DropReason[] = [
  'tie',
  'missing_field',
  'malformed_row',
  'empty_image',
  'undecodable_image',
  'image_too_large',
  'identical_images',
];

export interface DroppedRow {
  index: number;
  reason: DropReason;
  detail: string;
}

/** What a dataset reader yields: a pair, or a row it could not use (so reports can count and show them). */
export type SourceRow = PairRow | DroppedRow;

export function isDropped(row: SourceRow): row is DroppedRow {
  return 'reason' in row;
}
