import type { Model } from '@npo/contracts';
import { PAGE_OPTIONS, nextPageHint, pageQuery, type Command } from '../command.ts';
import { println } from '../io.ts';
import { modelDetail, modelTable } from '../views.ts';

export const modelCommands: Command[] = [
  {
    resource: 'models', action: 'list', synopsis: 'models list [--limit N] [--cursor C]', args: [], summary: 'list the base models you can train on (built-in and yours)',
    options: { ...PAGE_OPTIONS },
    async run(ctx) {
      const page = await ctx.client.get<{ data: Model[]; next_cursor: string | null }>('/v1/models', pageQuery(ctx));
      if (ctx.json) println(ctx.io.stdout, JSON.stringify(page, null, 2));
      else println(ctx.io.stdout, page.data.length ? modelTable(page.data) + nextPageHint(ctx, page.next_cursor) : 'no models');
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
