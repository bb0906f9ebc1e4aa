import { parseArgs } from 'node:util';
import { ApiClient } from './client.ts';
import { GLOBAL_OPTIONS, GLOBAL_SYNOPSIS, type Command } from './command.ts';
import { COMMANDS } from './commands/index.ts';
import { CliError, UsageError } from './errors.ts';
import { println, type Io } from './io.ts';

export const DEFAULT_API_URL = 'http://127.0.0.1:3000';

const usageOf = (c: Command) => `usage: npo ${c.synopsis} ${GLOBAL_SYNOPSIS}`;

export function helpText(): string {
  const head = (c: Command) => [c.resource, c.action, ...c.args.map((a) => `<${a}>`)].join(' ');
  const width = Math.max(...COMMANDS.map((c) => head(c).length));
  return [
    `usage: npo <resource> <action> [arguments] ${GLOBAL_SYNOPSIS}`,
    '',
    ...COMMANDS.map((c) => `  ${head(c).padEnd(width)}  ${c.summary}`),
    '',
    `The API is NPO_API_URL (default ${DEFAULT_API_URL}) with the key in NPO_API_KEY; --url and --key override them.`,
    '--json prints the API\'s JSON. `npo <resource> <action> --help` shows a command\'s options.',
    'Exit status: 0 ok, 1 the API (or a file, or the network) reported an error, 2 a usage error.',
  ].join('\n');
}

/** The command named by the first two positionals (only global options may come before them). */
function findCommand(argv: string[]): { command?: Command; words: string[] } {
  const words: string[] = [];
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    const a = argv[i];
    if (a === '--') break;
    if (a.startsWith('-')) {
      const name = a.replace(/^--?/, '').split('=')[0];
      if (!a.includes('=') && GLOBAL_OPTIONS[name]?.type === 'string') i++; // skip the value
      continue;
    }
    words.push(a);
  }
  return { command: COMMANDS.find((c) => c.resource === words[0] && c.action === words[1]), words };
}

/**
 * Runs one command line (without `node` and the script: `['jobs', 'get', 'job_…']`) and returns the exit
 * status. Never calls process.exit, so tests can call it in-process with their own streams.
 */
export async function run(argv: string[], io: Io): Promise<number> {
  const { command, words } = findCommand(argv);
  try {
    if (!command) {
      if (!words.length && (argv.includes('--help') || argv.includes('-h'))) {
        println(io.stdout, helpText());
        return 0;
      }
      const known = COMMANDS.filter((c) => c.resource === words[0]).map((c) => c.action);
      const what = !words.length ? 'no command given'
        : known.length ? `unknown action "${words[1] ?? ''}" for ${words[0]} (one of: ${known.join(', ')})` : `unknown command "${words.join(' ')}"`;
      throw new UsageError(what, `usage: npo <resource> <action> [arguments] ${GLOBAL_SYNOPSIS}  (npo --help lists the commands)`);
    }
    const usage = usageOf(command);
    let parsed;
    try {
      parsed = parseArgs({ args: argv, options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true });
    } catch (err) {
      throw new UsageError((err as Error).message, usage);
    }
    const { values } = parsed;
    if (values.help) {
      println(io.stdout, `${usage}\n  ${command.summary}`);
      return 0;
    }
    const args = parsed.positionals.slice(2);
    if (args.length !== command.args.length) {
      throw new UsageError(args.length < command.args.length ? `missing <${command.args[args.length]}>` : `unexpected argument "${args[command.args.length]}"`, usage);
    }
    const url = (values.url as string | undefined) ?? io.env.NPO_API_URL ?? DEFAULT_API_URL;
    try {
      new URL(url);
    } catch {
      throw new UsageError(`--url / NPO_API_URL must be an http(s) URL, got "${url}"`, usage);
    }
    const client = new ApiClient(url, (values.key as string | undefined) ?? io.env.NPO_API_KEY);
    return await command.run({ client, io, values, args, json: Boolean(values.json), name: `${command.resource} ${command.action}`, usage });
  } catch (err) {
    return report(err, io);
  }
}

function report(err: unknown, io: Io): number {
  if (err instanceof UsageError) {
    println(io.stderr, `error: ${err.message}`);
    println(io.stderr, err.usage);
    return 2;
  }
  if (err instanceof CliError) {
    println(io.stderr, `error ${err.code}: ${err.message}`);
    for (const [k, v] of Object.entries(err.details)) println(io.stderr, `  ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
    return 1;
  }
  println(io.stderr, `error internal: ${(err as Error)?.stack ?? String(err)}`);
  return 1;
}
