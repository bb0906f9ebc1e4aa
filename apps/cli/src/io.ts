// Where a command reads its environment and writes its output. main.ts passes the process's; tests pass
// in-memory streams so they can call run() without a subprocess.
export type Output = NodeJS.WritableStream & { isTTY?: boolean };

export interface Io {
  stdout: Output;
  stderr: Output;
  env: Record<string, string | undefined>;
  /** Relative paths (upload files, download targets) resolve against this folder. */
  cwd: string;
}

export const println = (out: Output, text = '') => { out.write(`${text}\n`); };

export function processIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}
