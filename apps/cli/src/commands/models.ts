import type { Model } from '@npo/contracts';
import { PAGE_OPTIONS, pageQuery, printPage, type Command } from '../command.ts';
import { println } from '../io.ts';
import { modelDetail, modelTable } from '../views.ts';

export const modelCommands: Command[] = [
  {
    resource: 'models', action: 'list', synopsis: 'models list [--limit N] [--cursor C]', args: [], summary: 'list the base models you can train on (built-in and yours)',
    options: { ...PAGE_OPTIONS },
    async run(ctx) {
      const page = await ctx.client.get<{ data: Model[]; next_cursor: string | null }>('/v1/models', pageQuery(ctx));
      printPage(ctx, page, modelTable, 'no models');
      return 0;
    },
  },
  {
    resource: 'models', action: 'get', synopsis: 'models get <id>', args: ['id'], summary: 'show a model', options: {},
    async run(ctx) {
      const m = await ctx.client.get<Model>(`/v1/models/${encodeURIComponent(ctx.args[0])}`);
      println(ctx.io.stdout, ctx.json ? JSON.stringify(m, null, 2) : modelDetail(m));
      return 0;
    },
  },
];
