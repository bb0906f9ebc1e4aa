import { statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { Dataset } from '@npo/contracts';
import { DatasetStatus } from '@npo/contracts';
import { PAGE_OPTIONS, oneOf, pageQuery, printPage, str, type Command } from '../command.ts';
import { CliError } from '../errors.ts';
import { println } from '../io.ts';
import { bytes } from '../format.ts';
import { datasetDetail, datasetTable } from '../views.ts';

const STATUSES = DatasetStatus.anyOf.map((s: { const: string }) => s.const);

export const datasetCommands: Command[] = [
  {
    resource: 'datasets', action: 'upload', synopsis: 'datasets upload <file> [--name NAME]', args: ['file'],
    summary: 'upload a preference set (.parquet, .zip or .tar), streamed from disk',
    options: { name: { type: 'string' } },
    async run(ctx) {
      const path = resolve(ctx.io.cwd, ctx.args[0]);
      let size: number;
      try {
        const st = statSync(path);
        if (!st.isFile()) throw new CliError('not_a_file', `${path} is not a regular file`, { path });
        size = st.size;
      } catch (err) {
        if (err instanceof CliError) throw err;
        throw new CliError('file_not_found', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { path });
      }
      const name = str(ctx, 'name');
      // streamed from disk (see multipart-upload.ts for why not fetch + openAsBlob); the name field precedes the file
      const { body } = await ctx.client.upload<Dataset>('/v1/datasets', path, name !== undefined ? { name } : {});
      if (ctx.json) println(ctx.io.stdout, JSON.stringify(body, null, 2));
      else {
        println(ctx.io.stdout, `uploaded ${basename(path)} (${bytes(size)}) as dataset ${body.id}: ${body.status}`);
        println(ctx.io.stdout, datasetDetail(body));
      }
      return 0;
    },
  },
  {
    resource: 'datasets', action: 'get', synopsis: 'datasets get <id>', args: ['id'], summary: 'show a dataset and its validation report', options: {},
    async run(ctx) {
      const d = await ctx.client.get<Dataset>(`/v1/datasets/${encodeURIComponent(ctx.args[0])}`);
      println(ctx.io.stdout, ctx.json ? JSON.stringify(d, null, 2) : datasetDetail(d));
      return 0;
    },
  },
  {
    resource: 'datasets', action: 'list', synopsis: 'datasets list [--status S] [--limit N] [--cursor C]', args: [], summary: 'list your datasets, newest first',
    options: { status: { type: 'string' }, ...PAGE_OPTIONS },
    async run(ctx) {
      const page = await ctx.client.get<{ data: Dataset[]; next_cursor: string | null }>('/v1/datasets', { ...pageQuery(ctx), status: oneOf(ctx, 'status', STATUSES) });
      printPage(ctx, page, datasetTable, 'no datasets');
      return 0;
    },
  },
];
