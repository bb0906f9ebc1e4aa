/**
 * Why a tokenizer folder could not be loaded. `code` is stable (the API may return it as-is); `file` names the file
 * to fix when one is at fault.
 */
export type TokenizerErrorCode =
  | 'tokenizer_file_missing' // neither vocab.json + merges.txt nor tokenizer.json, or one of a pair is absent
  | 'tokenizer_file_malformed' // a file is not valid JSON, or its content has the wrong shape
  | 'tokenizer_config_invalid' // a setting (model_max_length, padding_side, ...) has an unusable value
  | 'tokenizer_token_missing'; // a special token (bos/eos/pad/unk) is not in the vocabulary

export class TokenizerError extends Error {
  constructor(
    readonly code: TokenizerErrorCode,
    message: string,
    readonly file?: string,
  ) {
    super(message);
    this.name = 'TokenizerError';
  }
}
