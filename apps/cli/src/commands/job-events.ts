import { TERMINAL_STATES, type JobEvent, type JobState } from '@npo/contracts';
import { PAGE_OPTIONS, pageQuery, printPage, type Command, type Context } from '../command.ts';
import { CliError } from '../errors.ts';
import { println } from '../io.ts';
import { readSse } from '../sse.ts';
import { eventLine } from '../views.ts';
import { jobPath } from './jobs.ts';

const isTerminal = (e: JobEvent) => e.type === 'state' && TERMINAL_STATES.includes(e.data.status as JobState);
const RECONNECTS = 5;

export const jobEventsCommand: Command = {
  resource: 'jobs', action: 'events', synopsis: 'jobs events <id> [--follow] [--limit N] [--cursor C]', args: ['id'],
  summary: 'a page of job events; --follow streams them live until the job ends',
  options: { follow: { type: 'boolean', short: 'f' }, ...PAGE_OPTIONS },
  async run(ctx) {
    const print = (e: JobEvent) => println(ctx.io.stdout, ctx.json ? JSON.stringify(e) : eventLine(e));
    if (ctx.values.follow) return follow(ctx, print);
    const page = await ctx.client.get<{ data: JobEvent[]; next_cursor: string | null }>(`${jobPath(ctx.args[0])}/events`, pageQuery(ctx));
    printPage(ctx, page, (events) => events.map(eventLine).join('\n'), 'no events');
    return 0;
  },
};

/**
 * The live stream: the API replays past events, then sends new ones, and closes after the event that ends
 * the job. A connection that drops before that is resumed with Last-Event-ID, so no event prints twice.
 */
async function follow(ctx: Context, print: (e: JobEvent) => void): Promise<number> {
  let lastId: string | undefined;
  let failures = 0;
  for (;;) {
    try {
      const res = await ctx.client.request('GET', `${jobPath(ctx.args[0])}/events`, {
        headers: { accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) },
      });
      if (!res.body) throw new CliError('no_stream', 'the API answered the event stream without a body');
      for await (const msg of readSse(res.body)) {
        const event = JSON.parse(msg.data) as JobEvent;
        lastId = msg.id ?? event.id;
        failures = 0;
        print(event);
        if (isTerminal(event)) return 0;
      }
      // closed before the job ended (a proxy timeout, an API restart): resume
      if (++failures > RECONNECTS) throw new CliError('stream_ended', `the event stream closed ${RECONNECTS + 1} times before job ${ctx.args[0]} ended`);
    } catch (err) {
      if (err instanceof CliError && (err.status !== undefined || err.code === 'stream_ended')) throw err; // the API said no (404, 401): retrying won't help
      if (++failures > RECONNECTS) throw err instanceof CliError ? err : new CliError('stream_failed', `the event stream failed: ${(err as Error).message}`);
    }
    await new Promise((r) => setTimeout(r, 500 * failures));
  }
}
