import type { FastifyReply, FastifyRequest } from 'fastify';
import { Channels, TERMINAL_STATES, type JobEvent as Ev, type JobState } from '@npo/contracts';
import type { Db, EventBus } from '@npo/platform';
import { eventsSince } from './jobs.ts';

/**
 * Live job events as Server-Sent Events. Subscribe to Redis first, then replay from Postgres (the durable
 * record) after Last-Event-ID, so nothing falls between the two; ids dedupe the overlap. The stream ends
 * after the event that puts the job in a terminal state.
 */
const REPLAY_PAGE = 1000;

export async function streamJobEvents(deps: { db: Db; bus: EventBus; redisKeyPrefix: string }, request: FastifyRequest, reply: FastifyReply, jobId: string) {
  const lastHeader = request.headers['last-event-id'];
  let last = BigInt(/^\d+$/.test(String(lastHeader ?? '')) ? String(lastHeader) : '0');
  const buffered: Ev[] = [];
  let replaying = true;
  let closed = false;
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  raw.write(': connected\n\n');

  // the close handler goes on before the first await: a client that leaves while we subscribe must still
  // release the subscription and the heartbeat (their 'close' would otherwise pass unheard)
  let unsubscribe: (() => Promise<void>) | undefined;
  const heartbeat = setInterval(() => raw.write(': ping\n\n'), 15000);
  const finish = async () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    await unsubscribe?.().catch(() => {});
    raw.end();
  };
  raw.on('close', () => void finish());
  const send = (ev: Ev) => {
    if (closed || BigInt(ev.id) <= last) return;
    last = BigInt(ev.id);
    raw.write(`id: ${ev.id}\nevent: ${ev.type}\ndata: ${JSON.stringify(ev)}\n\n`);
    if (ev.type === 'state' && TERMINAL_STATES.includes(ev.data.state as JobState)) void finish();
  };
  // a long job stores one event per step: replay page by page (send moves `last`) until the store is drained
  const replayStored = async () => {
    for (;;) {
      const page = await eventsSince(deps.db, jobId, last, REPLAY_PAGE);
      for (const ev of page) send(ev);
      if (page.length < REPLAY_PAGE || closed) return;
    }
  };
  unsubscribe = await deps.bus.subscribe(Channels.jobEvents(deps.redisKeyPrefix, jobId), (msg) => {
    if (replaying) buffered.push(msg as Ev);
    else send(msg as Ev);
  });
  if (closed) {
    await unsubscribe().catch(() => {});
    return;
  }

  await replayStored();
  replaying = false;
  for (const ev of buffered.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1))) send(ev);
  // a job already finished before we subscribed: its terminal event was replayed above and ended the stream
  const job = await deps.db.job.findUnique({ where: { id: jobId }, select: { state: true } });
  if (job && TERMINAL_STATES.includes(job.state as JobState)) {
    await replayStored();
    await finish();
  }
}
