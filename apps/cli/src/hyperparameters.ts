// `--hp key=value` pairs into the hyperparameters object of a job. The API validates names and ranges
// (and says which field is wrong); here a value only gets its JSON type.

export function parseHpValue(raw: string): unknown {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw)) return Number(raw);
  return raw;
}

/** Throws a message for the usage error when a pair has no `=` or no key. */
export function parseHpPairs(pairs: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--hp takes key=value (e.g. --hp warmup_steps=0), got "${pair}"`);
    out[pair.slice(0, eq).trim()] = parseHpValue(pair.slice(eq + 1).trim());
  }
  return out;
}
