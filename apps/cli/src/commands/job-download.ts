import { createWriteStream, renameSync, rmSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ADAPTER_FILE, type Checkpoint } from '@npo/contracts';
import { integer, str, type Command } from '../command.ts';
import { CliError } from '../errors.ts';
import { bytes } from '../format.ts';
import { println } from '../io.ts';
import { jobPath } from './jobs.ts';

export const jobDownloadCommand: Command = {
  resource: 'jobs', action: 'download', synopsis: 'jobs download <id> [--step N] [-o FILE]', args: ['id'],
  summary: "download a checkpoint's LoRA adapter (.safetensors); the final one by default",
  options: { step: { type: 'string' }, output: { type: 'string', short: 'o' } },
  async run(ctx) {
    const id = ctx.args[0];
    const wanted = integer(ctx, 'step', 0);
    const { data: checkpoints } = await ctx.client.get<{ data: Checkpoint[] }>(`${jobPath(id)}/checkpoints`);
    const steps = checkpoints.map((c) => c.step).join(', ') || 'none';
    const cp = wanted === undefined ? checkpoints.find((c) => c.final) : checkpoints.find((c) => c.step === wanted);
    if (!cp) {
      if (wanted !== undefined) throw new CliError('checkpoint_not_found', `job ${id} has no checkpoint at step ${wanted} (checkpoints: ${steps})`, { job: id, step: wanted });
      throw new CliError('no_final_checkpoint', `job ${id} has no final checkpoint yet (checkpoints: ${steps}); pass --step N for an intermediate one`, { job: id });
    }
    const target = resolve(ctx.io.cwd, str(ctx, 'output') ?? `${id}-step-${cp.step}-${ADAPTER_FILE}`);
    const res = await ctx.client.request('GET', `${jobPath(id)}/checkpoints/${cp.step}/download`, { query: { stream: 1 } });
    if (!res.body) throw new CliError('empty_download', `the API sent no body for checkpoint ${cp.step} of job ${id}`);
    // write beside the target and rename, so an interrupted download never leaves a truncated adapter behind
    const partial = `${target}.partial`;
    try {
      await pipeline(Readable.fromWeb(res.body as WebReadableStream), createWriteStream(partial));
      renameSync(partial, target);
    } catch (err) {
      rmSync(partial, { force: true });
      throw new CliError('download_failed', `could not write ${target}: ${(err as Error).message}`, { path: target });
    }
    const size = statSync(target).size;
    if (ctx.json) println(ctx.io.stdout, JSON.stringify({ job: id, step: cp.step, final: cp.final, path: target, size_bytes: size }, null, 2));
    else println(ctx.io.stdout, `saved ${cp.final ? 'final ' : ''}adapter of job ${id} (step ${cp.step}, ${bytes(size)}) to ${target}`);
    return 0;
  },
};
