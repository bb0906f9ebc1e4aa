import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { buildApp } from '@npo/api';
import { createApiKey } from '@npo/platform';
import { startWorker, validateDataset } from '@npo/worker';
import { createTestContext, type TestContext } from '../../../packages/platform/src/testing.ts';
import { scriptedTrainer } from '../../worker/test/fixtures/scripted-trainer.ts';
import { run } from '../src/run.ts';
import type { Io } from '../src/io.ts';

/**
 * The real API on a free port over the real Postgres/Redis/S3 (a fresh schema and prefix per file), one real
 * worker (real dataset validation; the worker's scripted stand-in trainer, whose steps are sleeps, so jobs
 * finish in moments), the built-in `tiny-sd` model row, and an API key.
 */
export interface TestServer { ctx: TestContext; url: string; key: string; close: () => Promise<void> }

export async function startTestServer(name: string, overrides: Record<string, string> = {}): Promise<TestServer> {
  const ctx = await createTestContext(name, overrides);
  const app = await buildApp({ config: ctx.config, db: ctx.db, storage: ctx.storage, queues: ctx.queues, redis: ctx.redis, bus: ctx.bus, logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  // what setupServices leaves for a built-in model: files under models/builtin/<name>/ and a ready row for every tenant
  await ctx.storage.putBuffer('models/builtin/tiny-sd/unet/config.json', '{"sample_size": 8}');
  await ctx.db.model.create({ data: { id: 'tiny-sd', tenant_id: null, name: 'tiny-sd', source: 'builtin', s3_prefix: 'models/builtin/tiny-sd', status: 'ready', info: { pixelSpace: true, sampleSize: 8, hasVae: false } } });
  let worker: Awaited<ReturnType<typeof startWorker>> | undefined = await startWorker({ ...ctx, trainer: scriptedTrainer, validateDataset });
  const { key } = await createApiKey(ctx.db, 'cli-tests');
  return {
    ctx, url, key,
    close: async () => {
      await worker?.close();
      worker = undefined;
      await app.close();
      await ctx.close();
    },
  };
}

/** An in-memory stream standing in for stdout/stderr; `isTTY` decides between the progress bar and plain lines. */
export class Capture extends Writable {
  chunks: string[] = [];
  constructor(readonly isTTY = false) { super(); }
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void) { this.chunks.push(String(chunk)); cb(); }
  get text() { return this.chunks.join(''); }
}

export interface CliResult { code: number; stdout: string; stderr: string }

/** Runs one command line in-process against the test server. */
export async function cli(server: TestServer, argv: string[], opts: { tty?: boolean; cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  const stdout = new Capture(opts.tty ?? false);
  const stderr = new Capture();
  const io: Io = { stdout, stderr, cwd: opts.cwd ?? process.cwd(), env: { NPO_API_URL: server.url, NPO_API_KEY: server.key, ...opts.env } };
  const code = await run(argv, io);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** Runs a command that prints JSON (`--json` is added) and returns the parsed output; fails on a non-zero exit. */
export async function cliJson<T = any>(server: TestServer, argv: string[]): Promise<T> {
  const r = await cli(server, [...argv, '--json']);
  if (r.code !== 0) throw new Error(`npo ${argv.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 20000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
