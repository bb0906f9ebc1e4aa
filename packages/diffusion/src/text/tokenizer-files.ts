/**
 * Reads a diffusers `tokenizer/` folder: the BPE model from `vocab.json` + `merges.txt` (what SD1.x ships and what
 * the reference slow tokenizer reads) or from a `tokenizer.json` (HF fast format), and the special tokens and
 * lengths from `tokenizer_config.json` / `special_tokens_map.json` when present.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TokenizerError } from './tokenizer-errors.ts';

/** A token that is split off the raw text before clean-up (transformers' AddedToken). */
export interface AddedToken {
  content: string;
  lstrip: boolean;
  rstrip: boolean;
  singleWord: boolean;
}

export interface TokenizerFiles {
  vocab: Map<string, number>;
  merges: Array<[string, string]>;
  /** Ids of added tokens that are not (or not only) in the vocabulary, e.g. tokenizer.json's added_tokens. */
  addedIds: Map<string, number>;
  addedTokens: AddedToken[];
  bosToken: string;
  eosToken: string;
  padToken: string;
  unkToken: string;
  modelMaxLength: number;
  paddingSide: 'right' | 'left';
  truncationSide: 'right' | 'left';
}

/** CLIPTokenizer's defaults, used where the folder's config does not name a token. */
const DEFAULT_TOKENS = { bos: '<|startoftext|>', eos: '<|endoftext|>', unk: '<|endoftext|>', pad: '<|endoftext|>' };
/** CLIP's text encoder has 77 positions; the tokenizer pads to this when the config gives no usable length. */
const CLIP_CONTEXT_LENGTH = 77;
/** transformers writes int(1e30) ("VERY_LARGE_INTEGER") as model_max_length when the length is unknown. */
const UNKNOWN_LENGTH_THRESHOLD = 1e15;
/**
 * The slow CLIPTokenizer keeps at most this many merges of merges.txt (`[1 : 49152 - 256 - 2 + 1]`): CLIP's
 * 49,408-token vocabulary minus 256+256 byte tokens and 2 specials. Real CLIP files have exactly this many.
 */
const SLOW_MAX_MERGES = 49152 - 256 - 2;

function readText(dir: string, name: string): string {
  const path = join(dir, name);
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new TokenizerError('tokenizer_file_missing', `cannot read ${path}: ${(e as Error).message}`, name);
  }
}

function readJson(dir: string, name: string): unknown {
  const text = readText(dir, name);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new TokenizerError('tokenizer_file_malformed', `${join(dir, name)} is not valid JSON: ${(e as Error).message}`, name);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseVocab(raw: unknown, file: string, where: string): Map<string, number> {
  if (!isObject(raw)) throw new TokenizerError('tokenizer_file_malformed', `${where} must be an object mapping token → id`, file);
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(raw)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0)
      throw new TokenizerError('tokenizer_file_malformed', `${where}: token ${JSON.stringify(token)} has id ${JSON.stringify(id)}, expected a non-negative integer`, file);
    vocab.set(token, id);
  }
  if (vocab.size === 0) throw new TokenizerError('tokenizer_file_malformed', `${where} is empty`, file);
  return vocab;
}

function parseMergeLine(line: string, file: string, lineNo: number): [string, string] {
  const parts = line.trim().split(/\s+/);
  if (parts.length !== 2)
    throw new TokenizerError('tokenizer_file_malformed', `${file} line ${lineNo}: expected two symbols separated by a space, got ${JSON.stringify(line)}`, file);
  return [parts[0], parts[1]];
}

/** merges.txt: an optional `#version` header, then one `first second` pair per line in rank order. */
function parseMergesTxt(text: string): Array<[string, string]> {
  const lines = text.trim().split('\n');
  // The slow tokenizer drops the first line unconditionally; we drop it only when it is a header (as the fast one
  // does), so a header-less file does not silently lose its best merge.
  const start = lines[0]?.startsWith('#') ? 1 : 0;
  const merges: Array<[string, string]> = [];
  for (let i = start; i < lines.length && merges.length < SLOW_MAX_MERGES; i++) {
    if (lines[i].trim() === '') continue;
    merges.push(parseMergeLine(lines[i], 'merges.txt', i + 1));
  }
  return merges;
}

function parseTokenizerJson(raw: unknown): Pick<TokenizerFiles, 'vocab' | 'merges' | 'addedIds' | 'addedTokens'> {
  const file = 'tokenizer.json';
  if (!isObject(raw) || !isObject(raw.model)) throw new TokenizerError('tokenizer_file_malformed', `${file} has no "model" object`, file);
  const model = raw.model;
  if (model.type !== undefined && model.type !== 'BPE')
    throw new TokenizerError('tokenizer_file_malformed', `${file}: model.type is ${JSON.stringify(model.type)}, a CLIP tokenizer needs "BPE"`, file);
  if (model.end_of_word_suffix != null && model.end_of_word_suffix !== '</w>')
    throw new TokenizerError('tokenizer_file_malformed', `${file}: model.end_of_word_suffix is ${JSON.stringify(model.end_of_word_suffix)}, CLIP uses "</w>"`, file);
  const vocab = parseVocab(model.vocab, file, 'model.vocab');
  if (!Array.isArray(model.merges)) throw new TokenizerError('tokenizer_file_malformed', `${file}: model.merges must be an array`, file);
  // Older files write merges as "a b" strings, newer ones as ["a", "b"] pairs.
  const merges = model.merges.map((m, i): [string, string] => {
    if (typeof m === 'string') return parseMergeLine(m, file, i + 1);
    if (Array.isArray(m) && m.length === 2 && m.every((s) => typeof s === 'string')) return [m[0], m[1]];
    throw new TokenizerError('tokenizer_file_malformed', `${file}: model.merges[${i}] is ${JSON.stringify(m)}, expected "a b" or ["a", "b"]`, file);
  });
  const addedIds = new Map<string, number>();
  const addedTokens: AddedToken[] = [];
  for (const t of Array.isArray(raw.added_tokens) ? raw.added_tokens : []) {
    if (!isObject(t) || typeof t.content !== 'string' || typeof t.id !== 'number')
      throw new TokenizerError('tokenizer_file_malformed', `${file}: added_tokens entry ${JSON.stringify(t)} needs "id" and "content"`, file);
    addedIds.set(t.content, t.id);
    addedTokens.push(toAddedToken(t, file));
  }
  return { vocab, merges, addedIds, addedTokens };
}

function toAddedToken(v: unknown, file: string): AddedToken {
  if (typeof v === 'string') return { content: v, lstrip: false, rstrip: false, singleWord: false };
  if (isObject(v) && typeof v.content === 'string')
    return { content: v.content, lstrip: v.lstrip === true, rstrip: v.rstrip === true, singleWord: v.single_word === true };
  throw new TokenizerError('tokenizer_file_malformed', `${file}: token ${JSON.stringify(v)} must be a string or {"content": ...}`, file);
}

function optionalJson(dir: string, name: string): Record<string, unknown> {
  if (!existsSync(join(dir, name))) return {};
  const raw = readJson(dir, name);
  if (!isObject(raw)) throw new TokenizerError('tokenizer_file_malformed', `${join(dir, name)} must hold a JSON object`, name);
  return raw;
}

function side(config: Record<string, unknown>, key: string): 'right' | 'left' {
  const v = config[key] ?? 'right';
  if (v !== 'right' && v !== 'left')
    throw new TokenizerError('tokenizer_config_invalid', `tokenizer_config.json: ${key} is ${JSON.stringify(v)}, expected "right" or "left"`, 'tokenizer_config.json');
  return v;
}

function maxLength(config: Record<string, unknown>): number {
  const v = config.model_max_length;
  if (v === undefined || v === null || (typeof v === 'number' && v >= UNKNOWN_LENGTH_THRESHOLD)) return CLIP_CONTEXT_LENGTH;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 2)
    throw new TokenizerError('tokenizer_config_invalid', `tokenizer_config.json: model_max_length is ${JSON.stringify(v)}, expected an integer ≥ 2 (room for bos and eos)`, 'tokenizer_config.json');
  return v;
}

export function readTokenizerFolder(dir: string): TokenizerFiles {
  const hasVocab = existsSync(join(dir, 'vocab.json'));
  const hasMerges = existsSync(join(dir, 'merges.txt'));
  const hasJson = existsSync(join(dir, 'tokenizer.json'));
  let model: Pick<TokenizerFiles, 'vocab' | 'merges' | 'addedIds' | 'addedTokens'>;
  if (hasVocab && hasMerges) {
    model = {
      vocab: parseVocab(readJson(dir, 'vocab.json'), 'vocab.json', 'vocab.json'),
      merges: parseMergesTxt(readText(dir, 'merges.txt')),
      addedIds: new Map(),
      addedTokens: [],
    };
  } else if (hasJson) {
    model = parseTokenizerJson(readJson(dir, 'tokenizer.json'));
  } else {
    const missing = hasVocab ? 'merges.txt' : 'vocab.json';
    throw new TokenizerError(
      'tokenizer_file_missing',
      `${dir} is not a CLIP tokenizer folder: it needs vocab.json + merges.txt or a tokenizer.json (${missing} is missing)`,
      missing,
    );
  }

  const config = optionalJson(dir, 'tokenizer_config.json');
  // special_tokens_map.json wins over tokenizer_config.json, as in transformers' from_pretrained.
  const specialMap = optionalJson(dir, 'special_tokens_map.json');
  const special = (key: string, fallback: string): AddedToken => {
    const v = specialMap[key] ?? config[key];
    if (v === undefined || v === null) return toAddedToken(fallback, 'tokenizer_config.json');
    return toAddedToken(v, key in specialMap ? 'special_tokens_map.json' : 'tokenizer_config.json');
  };
  const bos = special('bos_token', DEFAULT_TOKENS.bos);
  const eos = special('eos_token', DEFAULT_TOKENS.eos);
  const unk = special('unk_token', DEFAULT_TOKENS.unk);
  const pad = special('pad_token', DEFAULT_TOKENS.pad);

  // tokenizer_config.json's added_tokens_decoder ({"id": {content, lstrip, ...}}) lists extra no-split tokens.
  const addedIds = new Map(model.addedIds);
  const addedTokens = [...model.addedTokens];
  const decoder = config.added_tokens_decoder;
  if (decoder !== undefined) {
    if (!isObject(decoder)) throw new TokenizerError('tokenizer_file_malformed', 'tokenizer_config.json: added_tokens_decoder must be an object', 'tokenizer_config.json');
    for (const [id, t] of Object.entries(decoder)) {
      const token = toAddedToken(t, 'tokenizer_config.json');
      if (!/^\d+$/.test(id)) throw new TokenizerError('tokenizer_file_malformed', `tokenizer_config.json: added_tokens_decoder key ${JSON.stringify(id)} is not an id`, 'tokenizer_config.json');
      addedIds.set(token.content, Number(id));
      addedTokens.push(token);
    }
  }
  for (const t of [bos, eos, unk, pad]) addedTokens.push(t);

  return {
    vocab: model.vocab,
    merges: model.merges,
    addedIds,
    addedTokens,
    bosToken: bos.content,
    eosToken: eos.content,
    unkToken: unk.content,
    padToken: pad.content,
    modelMaxLength: maxLength(config),
    paddingSide: side(config, 'padding_side'),
    truncationSide: side(config, 'truncation_side'),
  };
}
