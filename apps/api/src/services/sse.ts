import type { FastifyReply, FastifyRequest } from 'fastify';
import { Channels, TERMINAL_STATES, type JobEvent as Ev, type JobState } from '@npo/contracts';
import type { Db, EventBus } from '@npo/platform';
import { eventsSince } from './job-events.ts';
import type { StreamRegistry } from './sse-streams.ts';

/**
 * Live job events as Server-Sent Events. Subscribe to Redis first, then replay from Postgres (the durable
 * record) after Last-Event-ID, so nothing falls between the two; ids dedupe the overlap. The stream ends
 * after the event that puts the job in a terminal state.
 *
 * Memory per stream is bounded: the replay waits for the socket to drain before the next write, live events that
 * arrive during the replay are kept only up to a page (past that they are re-read from Postgres), and a client that
 * stops reading live events is disconnected once a page's worth is queued (it resumes with Last-Event-ID).
 */
const REPLAY_PAGE = 1000;
const MAX_QUEUED_BYTES = 1024 * 1024;

export async function streamJobEvents(
  deps: { db: Db; bus: EventBus; redisKeyPrefix: string; streams?: StreamRegistry },
  request: FastifyRequest,
  reply: FastifyReply,
  jobId: string,
) {
  // the route's header schema has checked Last-Event-ID (an int8 id)
  const lastHeader = request.headers['last-event-id'];
  let last = BigInt(/^\d+$/.test(String(lastHeader ?? '')) ? String(lastHeader) : '0');
  let buffered: Ev[] = [];
  let missedLive = false;
  let replaying = true;
  let closed = false;
  let finish = async () => {};
  // 429 past the key's cap, before anything is written; a revoked key's streams are ended through here
  const release = deps.streams && request.auth ? deps.streams.open(request.auth.keyId, () => void finish()) : () => {};
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  raw.write(': connected\n\n');

  // the close handler goes on before the first await: a client that leaves while we subscribe must still
  // release the subscription and the heartbeat (their 'close' would otherwise pass unheard)
  let unsubscribe: (() => Promise<void>) | undefined;
  const heartbeat = setInterval(() => raw.write(': ping\n\n'), 15000);
  finish = async () => {
    if (closed) return;
    closed = true;
    release();
    clearInterval(heartbeat);
    await unsubscribe?.().catch(() => {});
    raw.end();
  };
  raw.on('close', () => void finish());
  /** Writes an event; false when the socket's buffer is full (the caller decides whether to wait or to drop the client). */
  const send = (ev: Ev): boolean => {
    if (closed || BigInt(ev.id) <= last) return true;
    last = BigInt(ev.id);
    const flushed = raw.write(`id: ${ev.id}\nevent: ${ev.type}\ndata: ${JSON.stringify(ev)}\n\n`);
    if (ev.type === 'state' && TERMINAL_STATES.includes(ev.data.state as JobState)) void finish();
    return flushed;
  };
  const drained = () => new Promise<void>((resolve) => {
    const done = () => { raw.off('drain', done); raw.off('close', done); resolve(); };
    raw.on('drain', done);
    raw.on('close', done);
  });
  // a long job stores one event per step: replay page by page (send moves `last`) until the store is drained
  const replayStored = async () => {
    for (;;) {
      const page = await eventsSince(deps.db, jobId, last, REPLAY_PAGE);
      for (const ev of page) if (!send(ev) && !closed) await drained();
      if (page.length < REPLAY_PAGE || closed) return;
    }
  };
  unsubscribe = await deps.bus.subscribe(Channels.jobEvents(deps.redisKeyPrefix, jobId), (msg) => {
    if (replaying) {
      if (buffered.length < REPLAY_PAGE) buffered.push(msg as Ev);
      else missedLive = true; // stored in Postgres: the next replay round reads it
      return;
    }
    send(msg as Ev);
    if (raw.writableLength > MAX_QUEUED_BYTES) void finish(); // not reading: it reconnects with Last-Event-ID
  });
  if (closed) {
    await unsubscribe().catch(() => {});
    return;
  }

  do {
    missedLive = false;
    await replayStored();
  } while (missedLive && !closed);
  replaying = false;
  const early = buffered.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  buffered = [];
  for (const ev of early) send(ev);
  // a job already finished before we subscribed: its terminal event was replayed above and ended the stream
  const job = await deps.db.job.findUnique({ where: { id: jobId }, select: { state: true } });
  if (job && TERMINAL_STATES.includes(job.state as JobState)) {
    await replayStored();
    await finish();
  }
}
