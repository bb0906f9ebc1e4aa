// What a device-second costs, per device kind (the execution provider a worker runs on), in one currency. The
// operator sets it (PRICE_TABLE); workers price each usage row when they write it.
export interface PriceTable {
  currency: string;
  /** Price of one device for one hour, per device kind. */
  per_device_hour: Record<string, number>;
}

// On-demand list prices of the day for one vCPU-class CPU worker and one H100-class GPU, rounded: a default that is
// neither zero nor anyone's contract.
export const DEFAULT_PRICE_TABLE: PriceTable = { currency: 'USD', per_device_hour: { cpu: 0.05, cuda: 2.5 } };

/** PRICE_TABLE's JSON, checked: a currency code and a non-negative finite price per device kind. */
export function parsePriceTable(raw: string): PriceTable {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new Error('must be JSON like {"currency":"USD","per_device_hour":{"cpu":0.05,"cuda":2.5}}');
  }
  const t = v as Partial<PriceTable>;
  if (!t || typeof t !== 'object' || typeof t.currency !== 'string' || !/^[A-Z]{3}$/.test(t.currency))
    throw new Error('must have "currency", a three-letter code such as "USD"');
  const prices = t.per_device_hour;
  if (!prices || typeof prices !== 'object' || Array.isArray(prices) || !Object.keys(prices).length)
    throw new Error('must have "per_device_hour", an object of device kind → price of one device-hour');
  for (const [kind, price] of Object.entries(prices))
    if (typeof price !== 'number' || !Number.isFinite(price) || price < 0) throw new Error(`per_device_hour.${kind} must be a number >= 0`);
  return { currency: t.currency, per_device_hour: { ...prices } };
}

/** Cost of `seconds` on `count` devices of `kind`; a kind without a price costs nothing (and is still counted in seconds). */
export function costOf(table: PriceTable, kind: string, count: number, seconds: number): number {
  return ((table.per_device_hour[kind] ?? 0) * count * seconds) / 3600;
}
