import type { ParseArgsConfig } from 'node:util';
import type { ApiClient } from './client.ts';
import { println, type Io } from './io.ts';
import { UsageError } from './errors.ts';

export type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface Context {
  client: ApiClient;
  io: Io;
  values: Values;
  /** Positional arguments after `<resource> <action>`. */
  args: string[];
  json: boolean;
  /** `jobs list`, say. */
  name: string;
  /** The command's usage line, shown with usage errors. */
  usage: string;
}

/** One `npo <resource> <action>`: its own options (on top of the global ones) and its positional arguments. */
export interface Command {
  resource: string;
  action: string;
  /** The usage line after `npo `, e.g. `jobs get <id>`. */
  synopsis: string;
  summary: string;
  args: string[];
  options: Options;
  run: (ctx: Context) => Promise<number>;
}

/** The options every command takes. */
export const GLOBAL_OPTIONS: Options = {
  url: { type: 'string' },
  key: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};
export const GLOBAL_SYNOPSIS = '[--url URL] [--key KEY] [--json]';

// Option value readers: a bad value is a usage error that says what to fix.
export function str(ctx: Context, name: string): string | undefined {
  return ctx.values[name] as string | undefined;
}

export function required(ctx: Context, name: string): string {
  const v = str(ctx, name);
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`, ctx.usage);
  return v;
}

export function integer(ctx: Context, name: string, min = 0): number | undefined {
  const v = str(ctx, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${v}"`, ctx.usage);
  return Number(v);
}

export function number(ctx: Context, name: string): number | undefined {
  const v = str(ctx, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${v}"`, ctx.usage);
  return n;
}

export function oneOf<T extends string>(ctx: Context, name: string, allowed: readonly T[]): T | undefined {
  const v = str(ctx, name);
  if (v !== undefined && !allowed.includes(v as T)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got "${v}"`, ctx.usage);
  return v as T | undefined;
}

/** The `--limit`/`--cursor` options of a list. */
export const PAGE_OPTIONS: Options = { limit: { type: 'string' }, cursor: { type: 'string' } };
export const pageQuery = (ctx: Context) => ({ limit: integer(ctx, 'limit', 1), cursor: str(ctx, 'cursor') });

/** A page of a list: its JSON, or `render`ed with the command for the next page (`none` when it is empty). */
export function printPage<T>(ctx: Context, page: { data: T[]; next_cursor: string | null }, render: (items: T[]) => string, none: string): void {
  const more = page.next_cursor ? `\nmore: npo ${ctx.name} --cursor ${page.next_cursor}` : '';
  println(ctx.io.stdout, ctx.json ? JSON.stringify(page, null, 2) : page.data.length ? render(page.data) + more : none);
}
